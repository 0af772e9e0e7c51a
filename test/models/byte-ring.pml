/*
 * A Promela model of ByteRing's wait/wake protocol (src/devices/byte-ring.ts),
 * checked with SPIN for lost wake-ups: with one producer and one consumer that
 * both sleep (the consumer for data, the producer for space), every interleaving
 * of their atomic steps must end with both processes at their end, never with
 * one asleep for good ("invalid end state").
 *
 * One Promela statement is one JS Atomics operation (sequentially consistent);
 * the data bytes and the producer's cached copies are left out because they do
 * not take part in waking. A futex is modelled as Atomics.wait/waitAsync are
 * specified: the value check and the enqueue are one atomic step, and notify
 * wakes whoever is enqueued on that word.
 *
 * Built four ways by test/devices-byte-ring-model.test.ts:
 *   default   the current protocol: a waiter sleeps on its own "waiting" word;
 *   -DOLD     the earlier one: a waiter slept on head/tail with the value it
 *             read before raising its flag. SPIN must find a lost wake-up there
 *             (it finds close() racing a consumer about to sleep: close changes
 *             no index, so its notify is lost and the wait never ends);
 *   -DNOCLOSE the producer never closes and the consumer stops after ITEMS
 *             bytes; with -DOLD, SPIN must then find the race that hung the
 *             console test: a producer still inside an older write takes down
 *             the consumer's new flag before the consumer sleeps, and the next
 *             write sees no flag and notifies nobody.
 * Each OLD failure shows that the model can see the bug the current protocol
 * is checked to be free of.
 */

#define ITEMS 3
#define CAP 1

byte head = 0;          /* bytes ever written (producer stores) */
byte tail = 0;          /* bytes ever read (consumer stores) */
bit closed = 0;
bit consumerWaiting = 0;
bit producerWaiting = 0;

/* Who is enqueued on which futex word. */
bool sleepOnConsumerWaiting = false;
bool sleepOnProducerWaiting = false;
bool sleepOnHead = false;
bool sleepOnTail = false;

/* Atomics.wait(word, expected): sleeps only if the word still holds `expected`. */
inline futexWait(word, expected, queue) {
  atomic { if :: word == expected -> queue = true :: else -> skip fi };
  (!queue)
}

/* A producer's "if the flag is up, take it down and notify". */
#ifdef OLD
inline wakeConsumer() {
  if
  :: consumerWaiting != 0 ->
     atomic { t = consumerWaiting; consumerWaiting = 0 };
     if :: t != 0 -> sleepOnHead = false :: else -> skip fi
  :: else -> skip
  fi
}
inline wakeProducer() {
  if
  :: producerWaiting != 0 ->
     atomic { t = producerWaiting; producerWaiting = 0 };
     if :: t != 0 -> sleepOnTail = false :: else -> skip fi
  :: else -> skip
  fi
}
#else
inline wakeConsumer() {
  if
  :: consumerWaiting != 0 ->
     atomic { t = consumerWaiting; consumerWaiting = 0 };
     if :: t != 0 -> sleepOnConsumerWaiting = false :: else -> skip fi
  :: else -> skip
  fi
}
inline wakeProducer() {
  if
  :: producerWaiting != 0 ->
     atomic { t = producerWaiting; producerWaiting = 0 };
     if :: t != 0 -> sleepOnProducerWaiting = false :: else -> skip fi
  :: else -> skip
  fi
}
#endif

active proctype producer() {
  byte t;
  byte seen;
  byte written = 0;
  do
  :: written == ITEMS -> break
  :: else ->
     /* waitForSpace(): ready() is free() > 0 */
     do
     :: head - tail < CAP -> break
     :: else ->
#ifdef OLD
        seen = tail;
        producerWaiting = 1;
        if
        :: head - tail < CAP -> break
        :: else -> futexWait(tail, seen, sleepOnTail)
        fi
#else
        producerWaiting = 1;
        if
        :: head - tail < CAP -> break
        :: else -> futexWait(producerWaiting, 1, sleepOnProducerWaiting)
        fi
#endif
     od;
     producerWaiting = 0;
     /* writeByte(): store head, then wake a sleeping consumer */
     head = head + 1;
     written = written + 1;
     wakeConsumer()
  od;
#ifndef NOCLOSE
  /* close(): closed = 1, then wake the consumer unconditionally */
  closed = 1;
#ifdef OLD
  sleepOnHead = false
#else
  consumerWaiting = 0;
  sleepOnConsumerWaiting = false
#endif
#endif
}

active proctype consumer() {
  byte t;
  byte seen;
  do
#ifdef NOCLOSE
  :: tail == ITEMS -> break
#endif
  :: head != tail ->
     /* readByte(): store tail, then wake a sleeping producer */
     tail = tail + 1;
     wakeProducer()
  :: else ->
     if
     :: closed ->
        /* closed is stored after the last head, so head is final here */
        if :: head == tail -> break :: else -> skip fi
     :: else ->
        /* waitForData(): ready() is available() > 0 || closed */
#ifdef OLD
        seen = head;
        consumerWaiting = 1;
        if
        :: head != tail || closed -> skip
        :: else -> futexWait(head, seen, sleepOnHead)
        fi;
#else
        consumerWaiting = 1;
        if
        :: head != tail || closed -> skip
        :: else -> futexWait(consumerWaiting, 1, sleepOnConsumerWaiting)
        fi;
#endif
        consumerWaiting = 0
     fi
  od;
  assert(tail == ITEMS)
}

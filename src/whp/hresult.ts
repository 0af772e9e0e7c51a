/**
 * HRESULT → symbolic name, for every WHP error message.
 *
 * Sources: WHV_E_* values from the Windows SDK 10.0.22621 winerror.h (MinGW's
 * winerror.h lacks them; QEMU defines WHV_E_UNKNOWN_CAPABILITY itself);
 * the generic E_* codes from winerror.h; 0x8007xxxx is HRESULT_FROM_WIN32 of a
 * Win32 error code (winerror.h FACILITY_WIN32 = 7); 0xC035xxxx are NTSTATUS
 * STATUS_HV_* codes that WHP passes through (e.g. QEMU's "injection failed …
 * (c0350005)"): 0xC0350000 | HV_STATUS, with the HV_STATUS values of the Hyper-V
 * TLFS (also in Linux's include/asm-generic/hyperv-tlfs.h: INVALID_VP_INDEX 0xE,
 * INVALID_PORT_ID 0x11).
 */

const NAMES: ReadonlyMap<number, string> = new Map([
  [0x00000000, 'S_OK'],
  [0x00000001, 'S_FALSE'],
  [0x80004001, 'E_NOTIMPL'],
  [0x80004002, 'E_NOINTERFACE'],
  [0x80004003, 'E_POINTER'],
  [0x80004004, 'E_ABORT'],
  [0x80004005, 'E_FAIL'],
  [0x8000ffff, 'E_UNEXPECTED'],
  [0x80070005, 'E_ACCESSDENIED'],
  [0x80070006, 'E_HANDLE'],
  [0x8007000e, 'E_OUTOFMEMORY'],
  [0x80070057, 'E_INVALIDARG'],
  [0x80370300, 'WHV_E_UNKNOWN_CAPABILITY'],
  [0x80370301, 'WHV_E_INSUFFICIENT_BUFFER'],
  [0x80370302, 'WHV_E_UNKNOWN_PROPERTY'],
  [0x80370303, 'WHV_E_UNSUPPORTED_HYPERVISOR_CONFIG'],
  [0x80370304, 'WHV_E_INVALID_PARTITION_CONFIG'],
  [0x80370305, 'WHV_E_GPA_RANGE_NOT_FOUND'],
  [0x80370306, 'WHV_E_VP_ALREADY_EXISTS'],
  [0x80370307, 'WHV_E_VP_DOES_NOT_EXIST'],
  [0x80370308, 'WHV_E_INVALID_VP_STATE'],
  [0x80370309, 'WHV_E_INVALID_VP_REGISTER_NAME'],
  [0x80370310, 'WHV_E_UNSUPPORTED_PROCESSOR_CONFIG'],
  [0xc0350002, 'STATUS_HV_INVALID_HYPERCALL_CODE'],
  [0xc0350003, 'STATUS_HV_INVALID_HYPERCALL_INPUT'],
  [0xc0350004, 'STATUS_HV_INVALID_ALIGNMENT'],
  [0xc0350005, 'STATUS_HV_INVALID_PARAMETER'],
  [0xc0350006, 'STATUS_HV_ACCESS_DENIED'],
  [0xc0350007, 'STATUS_HV_INVALID_PARTITION_STATE'],
  [0xc0350008, 'STATUS_HV_OPERATION_DENIED'],
  [0xc0350009, 'STATUS_HV_UNKNOWN_PROPERTY'],
  [0xc035000a, 'STATUS_HV_PROPERTY_VALUE_OUT_OF_RANGE'],
  [0xc035000b, 'STATUS_HV_INSUFFICIENT_MEMORY'],
  [0xc035000d, 'STATUS_HV_INVALID_PARTITION_ID'],
  [0xc035000e, 'STATUS_HV_INVALID_VP_INDEX'],
  [0xc0350010, 'STATUS_HV_NOT_FOUND'],
  [0xc0350011, 'STATUS_HV_INVALID_PORT_ID'],
]);

/** Win32 error codes (winerror.h) seen behind HRESULT_FROM_WIN32 from WHP and the loader. */
const WIN32: ReadonlyMap<number, string> = new Map([
  [1, 'ERROR_INVALID_FUNCTION'],
  [2, 'ERROR_FILE_NOT_FOUND'],
  [5, 'ERROR_ACCESS_DENIED'],
  [6, 'ERROR_INVALID_HANDLE'],
  [8, 'ERROR_NOT_ENOUGH_MEMORY'],
  [14, 'ERROR_OUTOFMEMORY'],
  [31, 'ERROR_GEN_FAILURE'],
  [50, 'ERROR_NOT_SUPPORTED'],
  [87, 'ERROR_INVALID_PARAMETER'],
  [120, 'ERROR_CALL_NOT_IMPLEMENTED'],
  [122, 'ERROR_INSUFFICIENT_BUFFER'],
  [126, 'ERROR_MOD_NOT_FOUND'],
  [127, 'ERROR_PROC_NOT_FOUND'],
  [170, 'ERROR_BUSY'],
  [487, 'ERROR_INVALID_ADDRESS'],
  [1168, 'ERROR_NOT_FOUND'],
  [1450, 'ERROR_NO_SYSTEM_RESOURCES'],
  [1455, 'ERROR_COMMITMENT_LIMIT'],
]);

/** 8-digit hex, the way Windows prints HRESULTs. */
export function hresultHex(hr: number): string {
  return '0x' + (hr >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** Symbolic name, or undefined when we do not know it. */
export function hresultName(hr: number): string | undefined {
  const u = hr >>> 0;
  const known = NAMES.get(u);
  if (known) return known;
  if (u >>> 16 === 0x8007) {
    const w = WIN32.get(u & 0xffff);
    return w ? `HRESULT_FROM_WIN32(${w})` : `HRESULT_FROM_WIN32(${u & 0xffff})`;
  }
  return undefined;
}

/** `WHV_E_UNKNOWN_PROPERTY (0x80370302)` or just the hex when unnamed. */
export function describeHresult(hr: number): string {
  const name = hresultName(hr);
  return name ? `${name} (${hresultHex(hr)})` : hresultHex(hr);
}

/** FAILED(hr): the severity bit. */
export const failed = (hr: number): boolean => hr < 0 || (hr >>> 0) >= 0x80000000;

export const E_FAIL = 0x80004005 | 0;
export const WHV_E_UNKNOWN_CAPABILITY = 0x80370300 | 0;
export const WHV_E_UNKNOWN_PROPERTY = 0x80370302 | 0;

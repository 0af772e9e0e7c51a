/**
 * The WHP functions, as data (model: c-decl.ts): every prototype of MinGW-w64
 * 10.0.0 `winhvplatform.h` (66) and `winhvemulation.h` (4), in header order,
 * with the parameter types spelled exactly as the header spells them. The
 * conformance C file redeclares each one from this data; a redeclaration that
 * differs in any parameter or return type is a compile error (C11 6.7p4).
 *
 * `required` marks the functions present since WHP first shipped (Windows 10
 * 1803) that a VM needs; they are bound when the DLL is opened, so a broken
 * install fails at once. The rest are bound on first use: newer functions
 * (e.g. WHvSuspendPartitionTime, the vPCI and migration APIs) are missing on
 * older builds, and a missing one becomes a typed error naming it.
 */
import type { CallbackDecl, FunctionDecl } from './c-decl.ts';

const fn = (dll: FunctionDecl['dll'], name: string, params: FunctionDecl['params'], o: { winapi: boolean; required: boolean }): FunctionDecl => ({
  name,
  dll,
  ret: 'HRESULT',
  params,
  winapi: o.winapi,
  required: o.required,
});

export const WHV_FUNCTIONS: readonly FunctionDecl[] = [
  fn('WinHvPlatform.dll', 'WHvGetCapability', [['WHV_CAPABILITY_CODE', 'CapabilityCode'], ['VOID *', 'CapabilityBuffer'], ['UINT32', 'CapabilityBufferSizeInBytes'], ['UINT32 *', 'WrittenSizeInBytes']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvCreatePartition', [['WHV_PARTITION_HANDLE *', 'Partition']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvSetupPartition', [['WHV_PARTITION_HANDLE', 'Partition']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvResetPartition', [['WHV_PARTITION_HANDLE', 'Partition']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvDeletePartition', [['WHV_PARTITION_HANDLE', 'Partition']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvGetPartitionProperty', [['WHV_PARTITION_HANDLE', 'Partition'], ['WHV_PARTITION_PROPERTY_CODE', 'PropertyCode'], ['VOID *', 'PropertyBuffer'], ['UINT32', 'PropertyBufferSizeInBytes'], ['UINT32 *', 'WrittenSizeInBytes']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvSetPartitionProperty', [['WHV_PARTITION_HANDLE', 'Partition'], ['WHV_PARTITION_PROPERTY_CODE', 'PropertyCode'], ['const VOID *', 'PropertyBuffer'], ['UINT32', 'PropertyBufferSizeInBytes']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvSuspendPartitionTime', [['WHV_PARTITION_HANDLE', 'Partition']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvResumePartitionTime', [['WHV_PARTITION_HANDLE', 'Partition']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvMapGpaRange', [['WHV_PARTITION_HANDLE', 'Partition'], ['VOID *', 'SourceAddress'], ['WHV_GUEST_PHYSICAL_ADDRESS', 'GuestAddress'], ['UINT64', 'SizeInBytes'], ['WHV_MAP_GPA_RANGE_FLAGS', 'Flags']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvMapGpaRange2', [['WHV_PARTITION_HANDLE', 'Partition'], ['HANDLE', 'Process'], ['VOID *', 'SourceAddress'], ['WHV_GUEST_PHYSICAL_ADDRESS', 'GuestAddress'], ['UINT64', 'SizeInBytes'], ['WHV_MAP_GPA_RANGE_FLAGS', 'Flags']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvUnmapGpaRange', [['WHV_PARTITION_HANDLE', 'Partition'], ['WHV_GUEST_PHYSICAL_ADDRESS', 'GuestAddress'], ['UINT64', 'SizeInBytes']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvTranslateGva', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['WHV_GUEST_VIRTUAL_ADDRESS', 'Gva'], ['WHV_TRANSLATE_GVA_FLAGS', 'TranslateFlags'], ['WHV_TRANSLATE_GVA_RESULT *', 'TranslationResult'], ['WHV_GUEST_PHYSICAL_ADDRESS *', 'Gpa']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvCreateVirtualProcessor', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['UINT32', 'Flags']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvCreateVirtualProcessor2', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['const WHV_VIRTUAL_PROCESSOR_PROPERTY *', 'Properties'], ['UINT32', 'PropertyCount']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvDeleteVirtualProcessor', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvRunVirtualProcessor', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['VOID *', 'ExitContext'], ['UINT32', 'ExitContextSizeInBytes']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvCancelRunVirtualProcessor', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['UINT32', 'Flags']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvGetVirtualProcessorRegisters', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['const WHV_REGISTER_NAME *', 'RegisterNames'], ['UINT32', 'RegisterCount'], ['WHV_REGISTER_VALUE *', 'RegisterValues']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvSetVirtualProcessorRegisters', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['const WHV_REGISTER_NAME *', 'RegisterNames'], ['UINT32', 'RegisterCount'], ['const WHV_REGISTER_VALUE *', 'RegisterValues']], { winapi: true, required: true }),
  fn('WinHvPlatform.dll', 'WHvGetVirtualProcessorInterruptControllerState', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['VOID *', 'State'], ['UINT32', 'StateSize'], ['UINT32 *', 'WrittenSize']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvSetVirtualProcessorInterruptControllerState', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['const VOID *', 'State'], ['UINT32', 'StateSize']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvRequestInterrupt', [['WHV_PARTITION_HANDLE', 'Partition'], ['const WHV_INTERRUPT_CONTROL *', 'Interrupt'], ['UINT32', 'InterruptControlSize']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvGetVirtualProcessorXsaveState', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['VOID *', 'Buffer'], ['UINT32', 'BufferSizeInBytes'], ['UINT32 *', 'BytesWritten']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvSetVirtualProcessorXsaveState', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['const VOID *', 'Buffer'], ['UINT32', 'BufferSizeInBytes']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvQueryGpaRangeDirtyBitmap', [['WHV_PARTITION_HANDLE', 'Partition'], ['WHV_GUEST_PHYSICAL_ADDRESS', 'GuestAddress'], ['UINT64', 'RangeSizeInBytes'], ['UINT64 *', 'Bitmap'], ['UINT32', 'BitmapSizeInBytes']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvGetPartitionCounters', [['WHV_PARTITION_HANDLE', 'Partition'], ['WHV_PARTITION_COUNTER_SET', 'CounterSet'], ['VOID *', 'Buffer'], ['UINT32', 'BufferSizeInBytes'], ['UINT32 *', 'BytesWritten']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvGetVirtualProcessorCounters', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['WHV_PROCESSOR_COUNTER_SET', 'CounterSet'], ['VOID *', 'Buffer'], ['UINT32', 'BufferSizeInBytes'], ['UINT32 *', 'BytesWritten']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvGetVirtualProcessorInterruptControllerState2', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['VOID *', 'State'], ['UINT32', 'StateSize'], ['UINT32 *', 'WrittenSize']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvSetVirtualProcessorInterruptControllerState2', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['const VOID *', 'State'], ['UINT32', 'StateSize']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvRegisterPartitionDoorbellEvent', [['WHV_PARTITION_HANDLE', 'Partition'], ['const WHV_DOORBELL_MATCH_DATA *', 'MatchData'], ['HANDLE', 'EventHandle']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvUnregisterPartitionDoorbellEvent', [['WHV_PARTITION_HANDLE', 'Partition'], ['const WHV_DOORBELL_MATCH_DATA *', 'MatchData']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvAdviseGpaRange', [['WHV_PARTITION_HANDLE', 'Partition'], ['const WHV_MEMORY_RANGE_ENTRY *', 'GpaRanges'], ['UINT32', 'GpaRangesCount'], ['WHV_ADVISE_GPA_RANGE_CODE', 'Advice'], ['const VOID *', 'AdviceBuffer'], ['UINT32', 'AdviceBufferSizeInBytes']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvReadGpaRange', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['WHV_GUEST_PHYSICAL_ADDRESS', 'GuestAddress'], ['WHV_ACCESS_GPA_CONTROLS', 'Controls'], ['PVOID', 'Data'], ['UINT32', 'DataSizeInBytes']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvWriteGpaRange', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['WHV_GUEST_PHYSICAL_ADDRESS', 'GuestAddress'], ['WHV_ACCESS_GPA_CONTROLS', 'Controls'], ['const VOID *', 'Data'], ['UINT32', 'DataSizeInBytes']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvSignalVirtualProcessorSynicEvent', [['WHV_PARTITION_HANDLE', 'Partition'], ['WHV_SYNIC_EVENT_PARAMETERS', 'SynicEvent'], ['WINBOOL *', 'NewlySignaled']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvGetVirtualProcessorState', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['WHV_VIRTUAL_PROCESSOR_STATE_TYPE', 'StateType'], ['VOID *', 'Buffer'], ['UINT32', 'BufferSizeInBytes'], ['UINT32 *', 'BytesWritten']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvSetVirtualProcessorState', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['WHV_VIRTUAL_PROCESSOR_STATE_TYPE', 'StateType'], ['const VOID *', 'Buffer'], ['UINT32', 'BufferSizeInBytes']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvAllocateVpciResource', [['const GUID *', 'ProviderId'], ['WHV_ALLOCATE_VPCI_RESOURCE_FLAGS', 'Flags'], ['const VOID *', 'ResourceDescriptor'], ['UINT32', 'ResourceDescriptorSizeInBytes'], ['HANDLE *', 'VpciResource']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvCreateVpciDevice', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['HANDLE', 'VpciResource'], ['WHV_CREATE_VPCI_DEVICE_FLAGS', 'Flags'], ['HANDLE', 'NotificationEventHandle']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvDeleteVpciDevice', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvGetVpciDeviceProperty', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['WHV_VPCI_DEVICE_PROPERTY_CODE', 'PropertyCode'], ['VOID *', 'PropertyBuffer'], ['UINT32', 'PropertyBufferSizeInBytes'], ['UINT32 *', 'WrittenSizeInBytes']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvGetVpciDeviceNotification', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['WHV_VPCI_DEVICE_NOTIFICATION *', 'Notification'], ['UINT32', 'NotificationSizeInBytes']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvMapVpciDeviceMmioRanges', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['UINT32 *', 'MappingCount'], ['WHV_VPCI_MMIO_MAPPING **', 'Mappings']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvUnmapVpciDeviceMmioRanges', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvSetVpciDevicePowerState', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['DEVICE_POWER_STATE', 'PowerState']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvReadVpciDeviceRegister', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['const WHV_VPCI_DEVICE_REGISTER *', 'Register'], ['VOID *', 'Data']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvWriteVpciDeviceRegister', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['const WHV_VPCI_DEVICE_REGISTER *', 'Register'], ['const VOID *', 'Data']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvMapVpciDeviceInterrupt', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['UINT32', 'Index'], ['UINT32', 'MessageCount'], ['const WHV_VPCI_INTERRUPT_TARGET *', 'Target'], ['UINT64 *', 'MsiAddress'], ['UINT32 *', 'MsiData']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvUnmapVpciDeviceInterrupt', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['UINT32', 'Index']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvRetargetVpciDeviceInterrupt', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['UINT64', 'MsiAddress'], ['UINT32', 'MsiData'], ['const WHV_VPCI_INTERRUPT_TARGET *', 'Target']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvRequestVpciDeviceInterrupt', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['UINT64', 'MsiAddress'], ['UINT32', 'MsiData']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvGetVpciDeviceInterruptTarget', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'LogicalDeviceId'], ['UINT32', 'Index'], ['UINT32', 'MultiMessageNumber'], ['WHV_VPCI_INTERRUPT_TARGET *', 'Target'], ['UINT32', 'TargetSizeInBytes'], ['UINT32 *', 'BytesWritten']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvCreateTrigger', [['WHV_PARTITION_HANDLE', 'Partition'], ['const WHV_TRIGGER_PARAMETERS *', 'Parameters'], ['WHV_TRIGGER_HANDLE *', 'TriggerHandle'], ['HANDLE *', 'EventHandle']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvUpdateTriggerParameters', [['WHV_PARTITION_HANDLE', 'Partition'], ['const WHV_TRIGGER_PARAMETERS *', 'Parameters'], ['WHV_TRIGGER_HANDLE', 'TriggerHandle']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvDeleteTrigger', [['WHV_PARTITION_HANDLE', 'Partition'], ['WHV_TRIGGER_HANDLE', 'TriggerHandle']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvCreateNotificationPort', [['WHV_PARTITION_HANDLE', 'Partition'], ['const WHV_NOTIFICATION_PORT_PARAMETERS *', 'Parameters'], ['HANDLE', 'EventHandle'], ['WHV_NOTIFICATION_PORT_HANDLE *', 'PortHandle']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvSetNotificationPortProperty', [['WHV_PARTITION_HANDLE', 'Partition'], ['WHV_NOTIFICATION_PORT_HANDLE', 'PortHandle'], ['WHV_NOTIFICATION_PORT_PROPERTY_CODE', 'PropertyCode'], ['WHV_NOTIFICATION_PORT_PROPERTY', 'PropertyValue']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvDeleteNotificationPort', [['WHV_PARTITION_HANDLE', 'Partition'], ['WHV_NOTIFICATION_PORT_HANDLE', 'PortHandle']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvPostVirtualProcessorSynicMessage', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['UINT32', 'SintIndex'], ['const VOID *', 'Message'], ['UINT32', 'MessageSizeInBytes']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvGetVirtualProcessorCpuidOutput', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT32', 'VpIndex'], ['UINT32', 'Eax'], ['UINT32', 'Ecx'], ['WHV_CPUID_OUTPUT *', 'CpuidOutput']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvGetInterruptTargetVpSet', [['WHV_PARTITION_HANDLE', 'Partition'], ['UINT64', 'Destination'], ['WHV_INTERRUPT_DESTINATION_MODE', 'DestinationMode'], ['UINT32 *', 'TargetVps'], ['UINT32', 'VpCount'], ['UINT32 *', 'TargetVpCount']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvStartPartitionMigration', [['WHV_PARTITION_HANDLE', 'Partition'], ['HANDLE *', 'MigrationHandle']], { winapi: true, required: false }),
  fn('WinHvPlatform.dll', 'WHvCancelPartitionMigration', [['WHV_PARTITION_HANDLE', 'Partition']], { winapi: false, required: false }),
  fn('WinHvPlatform.dll', 'WHvCompletePartitionMigration', [['WHV_PARTITION_HANDLE', 'Partition']], { winapi: false, required: false }),
  fn('WinHvPlatform.dll', 'WHvAcceptPartitionMigration', [['HANDLE', 'MigrationHandle'], ['WHV_PARTITION_HANDLE *', 'Partition']], { winapi: true, required: false }),
  fn('WinHvEmulation.dll', 'WHvEmulatorCreateEmulator', [['const WHV_EMULATOR_CALLBACKS *', 'Callbacks'], ['WHV_EMULATOR_HANDLE *', 'Emulator']], { winapi: true, required: true }),
  fn('WinHvEmulation.dll', 'WHvEmulatorDestroyEmulator', [['WHV_EMULATOR_HANDLE', 'Emulator']], { winapi: true, required: true }),
  fn('WinHvEmulation.dll', 'WHvEmulatorTryIoEmulation', [['WHV_EMULATOR_HANDLE', 'Emulator'], ['VOID *', 'Context'], ['const WHV_VP_EXIT_CONTEXT *', 'VpContext'], ['const WHV_X64_IO_PORT_ACCESS_CONTEXT *', 'IoInstructionContext'], ['WHV_EMULATOR_STATUS *', 'EmulatorReturnStatus']], { winapi: true, required: true }),
  fn('WinHvEmulation.dll', 'WHvEmulatorTryMmioEmulation', [['WHV_EMULATOR_HANDLE', 'Emulator'], ['VOID *', 'Context'], ['const WHV_VP_EXIT_CONTEXT *', 'VpContext'], ['const WHV_MEMORY_ACCESS_CONTEXT *', 'MmioInstructionContext'], ['WHV_EMULATOR_STATUS *', 'EmulatorReturnStatus']], { winapi: true, required: true }),
];

/** The five `typedef HRESULT (CALLBACK *…)(…)` of winhvemulation.h. */
export const WHV_CALLBACKS: readonly CallbackDecl[] = [
  { name: 'WHV_EMULATOR_IO_PORT_CALLBACK', ret: 'HRESULT', params: [['VOID *', 'Context'], ['WHV_EMULATOR_IO_ACCESS_INFO *', 'IoAccess']] },
  { name: 'WHV_EMULATOR_MEMORY_CALLBACK', ret: 'HRESULT', params: [['VOID *', 'Context'], ['WHV_EMULATOR_MEMORY_ACCESS_INFO *', 'MemoryAccess']] },
  {
    name: 'WHV_EMULATOR_GET_VIRTUAL_PROCESSOR_REGISTERS_CALLBACK',
    ret: 'HRESULT',
    params: [['VOID *', 'Context'], ['const WHV_REGISTER_NAME *', 'RegisterNames'], ['UINT32', 'RegisterCount'], ['WHV_REGISTER_VALUE *', 'RegisterValues']],
  },
  {
    name: 'WHV_EMULATOR_SET_VIRTUAL_PROCESSOR_REGISTERS_CALLBACK',
    ret: 'HRESULT',
    params: [['VOID *', 'Context'], ['const WHV_REGISTER_NAME *', 'RegisterNames'], ['UINT32', 'RegisterCount'], ['const WHV_REGISTER_VALUE *', 'RegisterValues']],
  },
  {
    name: 'WHV_EMULATOR_TRANSLATE_GVA_PAGE_CALLBACK',
    ret: 'HRESULT',
    params: [
      ['VOID *', 'Context'],
      ['WHV_GUEST_VIRTUAL_ADDRESS', 'Gva'],
      ['WHV_TRANSLATE_GVA_FLAGS', 'TranslateFlags'],
      ['WHV_TRANSLATE_GVA_RESULT_CODE *', 'TranslationResult'],
      ['WHV_GUEST_PHYSICAL_ADDRESS *', 'Gpa'],
    ],
  },
];

export function functionDecl(name: string): FunctionDecl {
  const f = WHV_FUNCTIONS.find((x) => x.name === name);
  if (!f) throw new Error(`${name} is not declared in whp-functions.ts`);
  return f;
}

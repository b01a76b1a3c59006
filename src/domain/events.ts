/** Event reasons recorded on the Pod (core/v1 Events), as upstream names them. */
export const EventReason = {
  mountRotationComplete: 'MountRotationComplete',
  mountRotationFailed: 'MountRotationFailed',
  secretRotationComplete: 'SecretRotationComplete',
  secretRotationFailed: 'SecretRotationFailed',
  failedToCreateSecret: 'FailedToCreateSecret',
} as const;

export type EventReasonName = (typeof EventReason)[keyof typeof EventReason];
export type EventType = 'Normal' | 'Warning';

/** Event reasons: on the Pod as upstream names them, then the restarter's on the workload. */
export const EventReason = {
  mountRotationComplete: 'MountRotationComplete',
  mountRotationFailed: 'MountRotationFailed',
  secretRotationComplete: 'SecretRotationComplete',
  secretRotationFailed: 'SecretRotationFailed',
  failedToCreateSecret: 'FailedToCreateSecret',
  restartedOnRotation: 'RestartedOnRotation',
  restartOnRotationFailed: 'RestartOnRotationFailed',
} as const;

export type EventReasonName = (typeof EventReason)[keyof typeof EventReason];
export type EventType = 'Normal' | 'Warning';

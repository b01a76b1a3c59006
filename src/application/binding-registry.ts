import type { BindingSchedule } from '../domain/rotation-policy.js';
import type { VolumeBinding } from '../domain/volume-binding.js';

/** A mounted binding with the rotation loop's memory of it. */
export interface RegisteredBinding {
  readonly binding: VolumeBinding;
  readonly schedule: BindingSchedule;
  /** The check interval in force for the binding's class. */
  readonly intervalMs: number;
}

/**
 * The bindings mounted on this node, by target path. The registry is the rotation loop's work list;
 * listeners hear about additions so the loop can reschedule.
 */
export class BindingRegistry {
  private readonly entries = new Map<string, RegisteredBinding>();
  private readonly listeners = new Set<() => void>();

  get(targetPath: string): RegisteredBinding | undefined {
    return this.entries.get(targetPath);
  }

  put(entry: RegisteredBinding): void {
    this.entries.set(entry.binding.request.target.path, entry);
    for (const listener of this.listeners) listener();
  }

  delete(targetPath: string): RegisteredBinding | undefined {
    const entry = this.entries.get(targetPath);
    this.entries.delete(targetPath);
    return entry;
  }

  all(): RegisteredBinding[] {
    return [...this.entries.values()];
  }

  ofClass(namespace: string, className: string): RegisteredBinding[] {
    return this.all().filter(
      ({ binding }) => binding.request.pod.namespace === namespace && binding.request.className === className,
    );
  }

  /** Seconds since the provider last confirmed the oldest mounted content, per provider. */
  oldestContentAge(now: number): Map<string, number> {
    const ages = new Map<string, number>();
    for (const { binding } of this.entries.values()) {
      const age = Math.max(0, (now - binding.contentConfirmedAt) / 1000);
      ages.set(binding.providerName, Math.max(age, ages.get(binding.providerName) ?? 0));
    }
    return ages;
  }

  onPut(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

import type { BindingSchedule } from '../domain/rotation-policy.js';
import type { VolumeBinding } from '../domain/volume-binding.js';

/** A mounted binding with the rotation loop's memory of it. */
export interface RegisteredBinding {
  readonly binding: VolumeBinding;
  readonly schedule: BindingSchedule;
  /** The check interval in force for the binding's class. */
  readonly intervalMs: number;
}

/** Hears a target's new entry, or undefined when its binding was deleted. */
export type RegistryListener = (targetPath: string, entry: RegisteredBinding | undefined) => void;

/**
 * The bindings mounted on this node, by target path. The registry is the rotation loop's work list;
 * listeners hear about every put and delete so the loop keeps its queue without looking at every binding.
 */
export class BindingRegistry {
  private readonly entries = new Map<string, RegisteredBinding>();
  private readonly listeners = new Set<RegistryListener>();

  get(targetPath: string): RegisteredBinding | undefined {
    return this.entries.get(targetPath);
  }

  put(entry: RegisteredBinding): void {
    const targetPath = entry.binding.request.target.path;
    this.entries.set(targetPath, entry);
    for (const listener of this.listeners) listener(targetPath, entry);
  }

  delete(targetPath: string): RegisteredBinding | undefined {
    const entry = this.entries.get(targetPath);
    if (entry === undefined) return undefined;
    this.entries.delete(targetPath);
    for (const listener of this.listeners) listener(targetPath, undefined);
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

  onChange(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

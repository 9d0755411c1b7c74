import { DeferredDelivery, type Log, type Notification, type Notifier, type ObjectStore } from '../ports.js';
import type { TruststoreState } from '../truststore/state.js';
import { loadState, updateState } from './state-store.js';

/**
 * Delivers the notifications waiting in the state's outbox, then removes the delivered ones
 * (compare-and-set). What fails stays for the next run. Returns the errors.
 */
export const flushOutbox = async (store: ObjectStore, notifier: Notifier, log: Log): Promise<string[]> => {
  const { state } = await loadState(store);
  const { sent, errors } = await deliverOutbox(state, notifier, log);
  if (sent.size > 0) await updateState(store, withoutDelivered(sent));
  return errors;
};

/**
 * Delivers the notifications of `state`'s outbox without writing anything: the caller removes the
 * ones `sent` from the outbox (`withoutDelivered`), in a write it makes anyway. Until then a
 * crash re-sends them (each has a stable id); none is lost.
 */
export const deliverOutbox = async (
  state: TruststoreState,
  notifier: Notifier,
  log: Log,
): Promise<{ readonly sent: ReadonlySet<string>; readonly errors: string[] }> => {
  const sent = new Set<string>();
  const errors: string[] = [];
  for (const n of state.outbox ?? []) {
    try {
      await notifier.publish(n);
      sent.add(n.id);
    } catch (error) {
      if (error instanceof DeferredDelivery) {
        log.info('notification left in the outbox for the pipeline to send', { id: n.id });
        continue;
      }
      errors.push(`notification ${n.id}: ${(error as Error).message}`);
      log.error('notification failed, kept for the next run', { id: n.id, error: (error as Error).message });
    }
  }
  return { sent, errors };
};

/** The state change that takes delivered notifications out of the outbox (`undefined`: none there). */
export const withoutDelivered =
  (sent: ReadonlySet<string>) =>
  (s: TruststoreState): TruststoreState | undefined => {
    const outbox = (s.outbox ?? []).filter((n) => !sent.has(n.id));
    return outbox.length === (s.outbox ?? []).length ? undefined : { ...s, outbox };
  };

/**
 * A notifier that, when delivery fails, parks the notification in the state's outbox for the
 * next run before reporting the failure: for alerts sent outside a state commit (rolls, scans).
 */
export const durableNotifier = (store: ObjectStore, notifier: Notifier): Notifier => ({
  publish: async (n: Notification) => {
    try {
      await notifier.publish(n);
    } catch (error) {
      await updateState(store, (s) =>
        (s.outbox ?? []).some((o) => o.id === n.id) ? undefined : { ...s, outbox: [...(s.outbox ?? []), n] },
      );
      if (!(error instanceof DeferredDelivery)) throw error;
    }
  },
});

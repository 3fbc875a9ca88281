import { randomUUID } from 'node:crypto';
import type { AriEvent } from '../ari/ari-models.ts';
import { type AriPort, isAriError } from '../ari/ari-port.ts';
import { originateOnce } from '../ari/originate-once.ts';
import { realClock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { ChannelHandler } from './call-center.ts';

/** A supervisor listens in on a live call, or whispers to its call taker (the caller hears nothing). */
export interface MonitorCommand {
  kind: 'monitor';
  supervisorId: string;
  /** The supervisor's phone, e.g. `PJSIP/supervisor1`. */
  endpoint: string;
  mode: 'listen' | 'whisper';
}

export const MONITOR_CHANNEL_PREFIX = 'siaga112-monitor-';

interface Monitoring {
  id: string;
  callId: string;
  supervisorId: string;
  mode: MonitorCommand['mode'];
  snoopChannelId: string;
  phoneChannelId: string;
  bridgeId: string;
  ended: boolean;
  /** Aborted when the monitoring ends: an originate still being repeated stops. */
  lifetime: AbortController;
}

/**
 * Listen-in and whisper with ARI snoop channels. Listening spies on the caller's channel in both
 * directions (the caller and everyone talking to them); whispering spies on the taker's channel and
 * speaks into what the taker hears only. The snoop channel and the supervisor's phone meet in a
 * bridge of their own; when either leaves, or the call ends (Asterisk ends the snoop then), the
 * monitoring ends. Every start and end is an event on the call's timeline: who monitored what, when.
 */
export class CallMonitor implements ChannelHandler {
  readonly prefix = MONITOR_CHANNEL_PREFIX;
  readonly #ari: AriPort;
  readonly #findCall: (callId: string) => { callerChannelId: string; takerChannelId: string } | undefined;
  readonly #timeline: (callId: string, type: string, detail: Record<string, unknown>) => Promise<void>;
  readonly #ringSeconds: number;
  readonly #logger: Logger;
  readonly #byChannel = new Map<string, Monitoring>();

  constructor(options: {
    ari: AriPort;
    /** A call connected to a taker in this process, or undefined. */
    findCall: (callId: string) => { callerChannelId: string; takerChannelId: string } | undefined;
    timeline: (callId: string, type: string, detail: Record<string, unknown>) => Promise<void>;
    ringSeconds: number;
    logger: Logger;
  }) {
    this.#ari = options.ari;
    this.#findCall = options.findCall;
    this.#timeline = options.timeline;
    this.#ringSeconds = options.ringSeconds;
    this.#logger = options.logger;
  }

  /** 'unknown-call' when this process does not have the call; 'not-connected' when nobody answered it yet. */
  async start(callId: string, command: MonitorCommand): Promise<'ok' | 'not-connected' | 'unknown-call'> {
    const call = this.#findCall(callId);
    if (!call) return 'unknown-call';
    if (!call.takerChannelId) return 'not-connected';
    const id = randomUUID();
    const monitoring: Monitoring = {
      id,
      callId,
      supervisorId: command.supervisorId,
      mode: command.mode,
      snoopChannelId: `${MONITOR_CHANNEL_PREFIX}${id}-snoop`,
      phoneChannelId: `${MONITOR_CHANNEL_PREFIX}${id}-phone`,
      bridgeId: `${MONITOR_CHANNEL_PREFIX}${id}-bridge`,
      ended: false,
      lifetime: new AbortController(),
    };
    this.#byChannel.set(monitoring.snoopChannelId, monitoring);
    this.#byChannel.set(monitoring.phoneChannelId, monitoring);
    await this.#log(monitoring, 'monitor-started', { endpoint: command.endpoint });
    try {
      const whisper = command.mode === 'whisper';
      await this.#ari.snoop({
        channelId: whisper ? call.takerChannelId : call.callerChannelId,
        snoopId: monitoring.snoopChannelId,
        spy: 'both',
        whisper: whisper ? 'out' : 'none',
        appArgs: ['monitor', id],
      });
      // An originate whose answer was lost may be ringing the phone: asked again under the same id.
      const outcome = await originateOnce(
        this.#ari,
        {
          endpoint: command.endpoint,
          channelId: monitoring.phoneChannelId,
          appArgs: ['monitor', id],
          timeoutSeconds: this.#ringSeconds,
          callerId: '112',
        },
        { clock: realClock, wanted: () => !monitoring.ended, signal: monitoring.lifetime.signal },
      );
      // Ended meanwhile (the call, or the snoop): a phone that rings now rings for nothing.
      if (monitoring.ended) await this.#quietly(this.#ari.hangup(monitoring.phoneChannelId));
      else if (outcome.kind !== 'created') throw outcome.error;
    } catch (error) {
      this.#logger.warn({ err: error, callId }, 'could not start monitoring');
      await this.#end(monitoring, `could not start: ${isAriError(error) ? error.code : 'error'}`);
    }
    return 'ok';
  }

  handle(event: AriEvent): void {
    if (!('channel' in event) || !event.channel) return;
    const monitoring = this.#byChannel.get(event.channel.id);
    if (!monitoring) {
      // A leftover of a monitoring this process does not know (a restart): it has no purpose.
      if (event.type === 'StasisStart') void this.#quietly(this.#ari.hangup(event.channel.id));
      return;
    }
    if (event.type === 'StasisStart' && event.channel.id === monitoring.phoneChannelId) {
      void this.#connect(monitoring);
    } else if (event.type === 'ChannelDestroyed' || event.type === 'StasisEnd') {
      const who = event.channel.id === monitoring.phoneChannelId ? 'supervisor-left' : 'call-ended';
      void this.#end(monitoring, who);
    }
  }

  async #connect(monitoring: Monitoring): Promise<void> {
    if (monitoring.ended) return;
    try {
      await this.#ari.createBridge(monitoring.bridgeId, `siaga112 monitor ${monitoring.callId}`);
      await this.#ari.addChannels(monitoring.bridgeId, [
        monitoring.snoopChannelId,
        monitoring.phoneChannelId,
      ]);
      await this.#log(monitoring, 'monitor-connected', {});
    } catch (error) {
      this.#logger.warn({ err: error, callId: monitoring.callId }, 'could not connect the supervisor');
      await this.#end(monitoring, 'bridge-failed');
    }
  }

  async #end(monitoring: Monitoring, reason: string): Promise<void> {
    if (monitoring.ended) return;
    monitoring.ended = true;
    monitoring.lifetime.abort();
    this.#byChannel.delete(monitoring.snoopChannelId);
    this.#byChannel.delete(monitoring.phoneChannelId);
    await Promise.all([
      this.#quietly(this.#ari.hangup(monitoring.snoopChannelId)),
      this.#quietly(this.#ari.hangup(monitoring.phoneChannelId)),
      this.#quietly(this.#ari.destroyBridge(monitoring.bridgeId)),
    ]);
    await this.#log(monitoring, 'monitor-ended', { reason });
  }

  async #log(monitoring: Monitoring, type: string, detail: Record<string, unknown>): Promise<void> {
    await this.#timeline(monitoring.callId, type, {
      monitorId: monitoring.id,
      supervisorId: monitoring.supervisorId,
      mode: monitoring.mode,
      ...detail,
    }).catch((error: unknown) => this.#logger.warn({ err: error }, 'could not record a monitoring event'));
  }

  async #quietly(request: Promise<unknown>): Promise<void> {
    try {
      await request;
    } catch (error) {
      if (!isAriError(error, 'not-found')) this.#logger.warn({ err: error }, 'monitor cleanup failed');
    }
  }
}

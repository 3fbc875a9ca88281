/** The call as the recorder sees it: whose it is, and where its timeline goes while it lasts. */
export interface RecordedCall {
  readonly callId: string;
  readonly callerChannelId: string;
  /** The call's state now (`ended` once it is over, for good or because another instance has it). */
  state(): string;
  /** Appends an event to the call's timeline (while the call is not over). */
  log(type: string, detail: Record<string, unknown>): void;
}

/**
 * What a call session tells the recorder (absent: calls are not recorded). Nothing here may
 * delay or break a call: the starts return at once, the waits are bounded, nothing rejects.
 */
export interface CallRecordingHooks {
  /** The caller was answered: their leg is recorded from now on. */
  answered(call: RecordedCall): void;
  /**
   * The caller is about to join the call's bridge: the leg's recording ends first, as Asterisk
   * will not bridge a channel it is recording (409). Resolves once it has ended, or after a bound.
   */
  beforeBridge(call: RecordedCall): Promise<void>;
  /** Someone is in the bridge with the caller: the bridge's mix is recorded from now on. */
  bridged(call: RecordedCall, bridgeId: string): void;
  /**
   * The call's bridge is about to be destroyed: its recording is stopped, so its file is closed
   * and its end is heard. Resolves once it has ended, or after a bound.
   */
  beforeBridgeDestroyed(call: RecordedCall): Promise<void>;
}

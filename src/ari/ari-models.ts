/**
 * The slice of Asterisk 22's ARI data models (../shared/asterisk-ari/api-docs) that siaga112 and
 * its emulator exchange. Field names and optionality follow the Swagger models exactly.
 */

export type ChannelStateName =
  | 'Down'
  | 'Rsrvd'
  | 'OffHook'
  | 'Dialing'
  | 'Ring'
  | 'Ringing'
  | 'Up'
  | 'Busy'
  | 'Dialing Offhook'
  | 'Pre-ring'
  | 'Unknown';

export interface AriCallerId {
  name: string;
  number: string;
}

export interface AriDialplanCep {
  context: string;
  exten: string;
  priority: number;
  app_name: string;
  app_data: string;
}

export interface AriChannel {
  id: string;
  protocol_id: string;
  name: string;
  state: ChannelStateName;
  caller: AriCallerId;
  connected: AriCallerId;
  accountcode: string;
  dialplan: AriDialplanCep;
  creationtime: string;
  language: string;
  channelvars?: Record<string, string>;
  caller_rdnis?: string;
  tenantid?: string;
}

export interface AriEndpoint {
  technology: string;
  resource: string;
  /** 'unknown', 'offline', 'online'; a PJSIP endpoint is online while a contact is reachable. */
  state?: string;
  channel_ids: string[];
  connected_endpoints?: string[];
}

export interface AriBridge {
  id: string;
  technology: string;
  bridge_type: string;
  bridge_class: string;
  creator: string;
  name: string;
  channels: string[];
  video_mode?: string;
  video_source_id?: string;
  creationtime: string;
  bridgevars?: Record<string, string>;
}

export type PlaybackStateName = 'queued' | 'playing' | 'paused' | 'continuing' | 'done' | 'failed';

export interface AriPlayback {
  id: string;
  media_uri: string;
  next_media_uri?: string;
  target_uri: string;
  language?: string;
  state: PlaybackStateName;
}

export type LiveRecordingStateName = 'queued' | 'recording' | 'paused' | 'done' | 'failed' | 'canceled';

/** A recording in progress (`LiveRecording`): its name is the file's name under Asterisk's recording directory. */
export interface AriLiveRecording {
  name: string;
  format: string;
  /** `channel:<id>` or `bridge:<id>`. */
  target_uri: string;
  state: LiveRecordingStateName;
  /** Seconds of audio, once finished (absent when nothing was written). */
  duration?: number;
  talking_duration?: number;
  silence_duration?: number;
  /** Why it failed (`RecordingFailed`). */
  cause?: string;
}

/** Fields every ARI event carries (Message + Event). */
export interface AriEventBase {
  type: string;
  application: string;
  timestamp: string;
  asterisk_id?: string;
}

export interface StasisStartEvent extends AriEventBase {
  type: 'StasisStart';
  args: string[];
  channel: AriChannel;
  replace_channel?: AriChannel;
}
export interface StasisEndEvent extends AriEventBase {
  type: 'StasisEnd';
  channel: AriChannel;
}
export interface ChannelStateChangeEvent extends AriEventBase {
  type: 'ChannelStateChange';
  channel: AriChannel;
}
export interface ChannelDtmfReceivedEvent extends AriEventBase {
  type: 'ChannelDtmfReceived';
  digit: string;
  duration_ms: number;
  channel: AriChannel;
}
export interface ChannelTalkingStartedEvent extends AriEventBase {
  type: 'ChannelTalkingStarted';
  channel: AriChannel;
}
export interface ChannelTalkingFinishedEvent extends AriEventBase {
  type: 'ChannelTalkingFinished';
  channel: AriChannel;
  duration: number;
}
export interface PlaybackStartedEvent extends AriEventBase {
  type: 'PlaybackStarted';
  playback: AriPlayback;
}
export interface PlaybackFinishedEvent extends AriEventBase {
  type: 'PlaybackFinished';
  playback: AriPlayback;
}
export interface ChannelHangupRequestEvent extends AriEventBase {
  type: 'ChannelHangupRequest';
  cause?: number;
  tech_cause?: number;
  soft?: boolean;
  channel: AriChannel;
}
export interface ChannelDestroyedEvent extends AriEventBase {
  type: 'ChannelDestroyed';
  cause: number;
  cause_txt: string;
  tech_cause?: number;
  channel: AriChannel;
}
export interface ChannelEnteredBridgeEvent extends AriEventBase {
  type: 'ChannelEnteredBridge';
  bridge: AriBridge;
  channel?: AriChannel;
}
export interface ChannelLeftBridgeEvent extends AriEventBase {
  type: 'ChannelLeftBridge';
  bridge: AriBridge;
  channel: AriChannel;
}
export interface BridgeDestroyedEvent extends AriEventBase {
  type: 'BridgeDestroyed';
  bridge: AriBridge;
}
export interface DialEvent extends AriEventBase {
  type: 'Dial';
  caller?: AriChannel;
  peer: AriChannel;
  forward?: string;
  forwarded?: AriChannel;
  dialstring?: string;
  dialstatus: string;
}
export interface ChannelVarsetEvent extends AriEventBase {
  type: 'ChannelVarset';
  variable: string;
  value: string;
  channel?: AriChannel;
}

export interface EndpointStateChangeEvent extends AriEventBase {
  type: 'EndpointStateChange';
  endpoint: AriEndpoint;
}
export interface RecordingStartedEvent extends AriEventBase {
  type: 'RecordingStarted';
  recording: AriLiveRecording;
}
export interface RecordingFinishedEvent extends AriEventBase {
  type: 'RecordingFinished';
  recording: AriLiveRecording;
}
export interface RecordingFailedEvent extends AriEventBase {
  type: 'RecordingFailed';
  recording: AriLiveRecording;
}
/** Another WebSocket registered our application: Asterisk sends it events from now on. */
export interface ApplicationReplacedEvent extends AriEventBase {
  type: 'ApplicationReplaced';
}

/** The events siaga112 acts on, keyed by their ARI `type`. Anything else is ignored quietly. */
export interface AriEventMap {
  StasisStart: StasisStartEvent;
  StasisEnd: StasisEndEvent;
  ChannelStateChange: ChannelStateChangeEvent;
  ChannelDtmfReceived: ChannelDtmfReceivedEvent;
  ChannelTalkingStarted: ChannelTalkingStartedEvent;
  ChannelTalkingFinished: ChannelTalkingFinishedEvent;
  PlaybackStarted: PlaybackStartedEvent;
  PlaybackFinished: PlaybackFinishedEvent;
  ChannelHangupRequest: ChannelHangupRequestEvent;
  ChannelDestroyed: ChannelDestroyedEvent;
  ChannelEnteredBridge: ChannelEnteredBridgeEvent;
  ChannelLeftBridge: ChannelLeftBridgeEvent;
  BridgeDestroyed: BridgeDestroyedEvent;
  Dial: DialEvent;
  ChannelVarset: ChannelVarsetEvent;
  EndpointStateChange: EndpointStateChangeEvent;
  ApplicationReplaced: ApplicationReplacedEvent;
  RecordingStarted: RecordingStartedEvent;
  RecordingFinished: RecordingFinishedEvent;
  RecordingFailed: RecordingFailedEvent;
}

export type AriEventType = keyof AriEventMap;
export type AriEvent = AriEventMap[AriEventType];

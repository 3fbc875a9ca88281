import { describe, expect, it } from 'vitest';
import type { AriEventType } from '../../src/ari/ari-models.ts';
import { ARI_OPERATION_PARAMETERS, ARI_OPERATIONS } from '../../src/ari/ari-operations.ts';
import { allProperties, loadAriSpec } from '../../src/emulator/ari-spec.ts';

// The adapter may only call what Asterisk 22's own Swagger files declare.
const spec = loadAriSpec();

describe('ARI adapter contract (../shared/asterisk-ari)', () => {
  it.each(Object.entries(ARI_OPERATIONS))('%s is an operation Asterisk declares', (name, op) => {
    const declared = spec.operations.find((o) => o.resource === op.resource && o.nickname === op.nickname);
    expect(declared, `${op.resource}.${op.nickname}`).toBeDefined();
    expect(declared?.method).toBe(op.method);
    expect(declared?.path).toBe(op.path);
    const declaredParams = new Set(declared?.parameters.map((p) => p.name));
    for (const param of ARI_OPERATION_PARAMETERS[name as keyof typeof ARI_OPERATIONS]) {
      expect(declaredParams, `${name} sends ${param}`).toContain(param);
    }
    const required = declared?.parameters.filter((p) => p.required).map((p) => p.name) ?? [];
    for (const param of required) {
      expect(
        ARI_OPERATION_PARAMETERS[name as keyof typeof ARI_OPERATIONS],
        `${name} must send ${param}`,
      ).toContain(param);
    }
  });

  it('every event type the service handles is an event model with the fields it reads', () => {
    const handled: Record<AriEventType, string[]> = {
      StasisStart: ['args', 'channel'],
      StasisEnd: ['channel'],
      ChannelStateChange: ['channel'],
      ChannelDtmfReceived: ['digit', 'duration_ms', 'channel'],
      ChannelTalkingStarted: ['channel'],
      ChannelTalkingFinished: ['channel', 'duration'],
      PlaybackStarted: ['playback'],
      PlaybackFinished: ['playback'],
      ChannelHangupRequest: ['cause', 'channel'],
      ChannelDestroyed: ['cause', 'cause_txt', 'channel'],
      ChannelEnteredBridge: ['bridge', 'channel'],
      ChannelLeftBridge: ['bridge', 'channel'],
      BridgeDestroyed: ['bridge'],
      Dial: ['peer', 'dialstatus'],
      ChannelVarset: ['variable', 'value'],
      EndpointStateChange: ['endpoint'],
      ApplicationReplaced: ['application'],
      RecordingStarted: ['recording'],
      RecordingFinished: ['recording'],
      RecordingFailed: ['recording'],
    };
    for (const [type, fields] of Object.entries(handled)) {
      const properties = allProperties(spec, type);
      expect(properties, type).toBeDefined();
      for (const field of fields) expect(Object.keys(properties ?? {}), `${type}.${field}`).toContain(field);
    }
    // The LiveRecording model has the fields the recorder reads.
    const recording = allProperties(spec, 'LiveRecording');
    for (const field of ['name', 'format', 'state', 'target_uri', 'duration', 'cause']) {
      expect(Object.keys(recording ?? {}), `LiveRecording.${field}`).toContain(field);
    }
    // The Endpoint model has the fields presence reads.
    const endpoint = allProperties(spec, 'Endpoint');
    for (const field of ['technology', 'resource', 'state', 'channel_ids']) {
      expect(Object.keys(endpoint ?? {}), `Endpoint.${field}`).toContain(field);
    }
  });
});

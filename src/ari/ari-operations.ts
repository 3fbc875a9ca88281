/**
 * Every ARI operation siaga112 calls, as `resource.nickname` of Asterisk's Swagger files. The
 * adapter refuses to run against an Asterisk whose API lacks one of them, and the contract test
 * checks this list against ../shared/asterisk-ari.
 */
export const ARI_OPERATIONS = {
  answer: { resource: 'channels', nickname: 'answer', method: 'POST', path: '/channels/{channelId}/answer' },
  hangup: { resource: 'channels', nickname: 'hangup', method: 'DELETE', path: '/channels/{channelId}' },
  continueInDialplan: {
    resource: 'channels',
    nickname: 'continueInDialplan',
    method: 'POST',
    path: '/channels/{channelId}/continue',
  },
  play: {
    resource: 'channels',
    nickname: 'playWithId',
    method: 'POST',
    path: '/channels/{channelId}/play/{playbackId}',
  },
  stopPlayback: {
    resource: 'playbacks',
    nickname: 'stop',
    method: 'DELETE',
    path: '/playbacks/{playbackId}',
  },
  startMoh: { resource: 'channels', nickname: 'startMoh', method: 'POST', path: '/channels/{channelId}/moh' },
  stopMoh: { resource: 'channels', nickname: 'stopMoh', method: 'DELETE', path: '/channels/{channelId}/moh' },
  setVariable: {
    resource: 'channels',
    nickname: 'setChannelVar',
    method: 'POST',
    path: '/channels/{channelId}/variable',
  },
  originate: {
    resource: 'channels',
    nickname: 'originateWithId',
    method: 'POST',
    path: '/channels/{channelId}',
  },
  getChannel: { resource: 'channels', nickname: 'get', method: 'GET', path: '/channels/{channelId}' },
  createBridge: {
    resource: 'bridges',
    nickname: 'createWithId',
    method: 'POST',
    path: '/bridges/{bridgeId}',
  },
  addChannels: {
    resource: 'bridges',
    nickname: 'addChannel',
    method: 'POST',
    path: '/bridges/{bridgeId}/addChannel',
  },
  removeChannels: {
    resource: 'bridges',
    nickname: 'removeChannel',
    method: 'POST',
    path: '/bridges/{bridgeId}/removeChannel',
  },
  destroyBridge: { resource: 'bridges', nickname: 'destroy', method: 'DELETE', path: '/bridges/{bridgeId}' },
  listBridges: { resource: 'bridges', nickname: 'list', method: 'GET', path: '/bridges' },
  getApplication: {
    resource: 'applications',
    nickname: 'get',
    method: 'GET',
    path: '/applications/{applicationName}',
  },
  subscribe: {
    resource: 'applications',
    nickname: 'subscribe',
    method: 'POST',
    path: '/applications/{applicationName}/subscription',
  },
  listEndpoints: { resource: 'endpoints', nickname: 'list', method: 'GET', path: '/endpoints' },
  getInfo: { resource: 'asterisk', nickname: 'getInfo', method: 'GET', path: '/asterisk/info' },
  snoop: {
    resource: 'channels',
    nickname: 'snoopChannelWithId',
    method: 'POST',
    path: '/channels/{channelId}/snoop/{snoopId}',
  },
  recordChannel: {
    resource: 'channels',
    nickname: 'record',
    method: 'POST',
    path: '/channels/{channelId}/record',
  },
  recordBridge: {
    resource: 'bridges',
    nickname: 'record',
    method: 'POST',
    path: '/bridges/{bridgeId}/record',
  },
  stopRecording: {
    resource: 'recordings',
    nickname: 'stop',
    method: 'POST',
    path: '/recordings/live/{recordingName}/stop',
  },
} as const;

export type AriOperationName = keyof typeof ARI_OPERATIONS;

/** The parameters the adapter sends per operation (besides path parameters). */
export const ARI_OPERATION_PARAMETERS: Record<AriOperationName, readonly string[]> = {
  answer: ['channelId'],
  hangup: ['channelId', 'reason'],
  continueInDialplan: ['channelId', 'context', 'extension', 'priority'],
  play: ['channelId', 'playbackId', 'media', 'lang'],
  stopPlayback: ['playbackId'],
  startMoh: ['channelId', 'mohClass'],
  stopMoh: ['channelId'],
  setVariable: ['channelId', 'variable', 'value'],
  originate: ['channelId', 'endpoint', 'app', 'appArgs', 'callerId', 'timeout', 'variables'],
  getChannel: ['channelId'],
  createBridge: ['bridgeId', 'type', 'name'],
  addChannels: ['bridgeId', 'channel'],
  removeChannels: ['bridgeId', 'channel'],
  destroyBridge: ['bridgeId'],
  listBridges: [],
  getApplication: ['applicationName'],
  subscribe: ['applicationName', 'eventSource'],
  listEndpoints: [],
  getInfo: ['only'],
  snoop: ['channelId', 'snoopId', 'spy', 'whisper', 'app', 'appArgs'],
  recordChannel: [
    'channelId',
    'name',
    'format',
    'ifExists',
    'maxDurationSeconds',
    'maxSilenceSeconds',
    'beep',
  ],
  recordBridge: ['bridgeId', 'name', 'format', 'ifExists', 'maxDurationSeconds', 'maxSilenceSeconds', 'beep'],
  stopRecording: ['recordingName'],
};

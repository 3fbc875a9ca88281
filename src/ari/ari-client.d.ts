// ari-client 2.2.0 ships no types; this declares the part of it the adapter uses.
declare module 'ari-client' {
  /** swagger-client 2.0 response handed to an operation's callbacks. */
  export interface SwaggerResponse {
    status: number;
    data?: string | Buffer;
    obj?: unknown;
  }
  export type SwaggerOperation = (
    params: Record<string, unknown>,
    onResponse: (response: SwaggerResponse) => void,
    onError: (response: SwaggerResponse) => void,
  ) => void;
  export interface SwaggerOperationDescription {
    nickname: string;
    method: string;
    path: string;
    parameters: Array<{ name: string; paramType: string }>;
  }
  export interface AriClient {
    _swagger: {
      apis: Record<
        string,
        Record<string, SwaggerOperation | unknown> & {
          operations: Record<string, SwaggerOperationDescription>;
          /** Where the operations' paths start, as the description says (Asterisk: the Host asked). */
          basePath?: string;
        }
      >;
    };
  }
  export function connect(url: string, user: string, pass: string): Promise<AriClient>;
  const ari: { connect: typeof connect };
  export default ari;
}

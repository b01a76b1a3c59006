// Original file: proto/provider.proto


export interface Error {
  'code'?: (string);
}

export interface Error__Output {
  'code': (string);
}

/** The thing model (TSL) document as the platform delivers it in `tslList` (alink.md section 6). */

export type TslTypeName = "int" | "float" | "double" | "bool" | "enum" | "text" | "date" | "struct" | "array";

export interface TslDataType {
  type: TslTypeName | string;
  /** Numeric specs arrive as strings ("min": "0"); enum/bool specs map value -> label; struct specs is a list. */
  specs?: unknown;
}

export interface TslParam {
  identifier: string;
  name?: string;
  dataType: TslDataType;
}

export interface TslProperty extends TslParam {
  accessMode?: "r" | "rw" | string;
  required?: boolean;
}

export interface TslEvent {
  identifier: string;
  name?: string;
  desc?: string;
  type?: string;
  required?: boolean;
  outputData?: TslParam[];
  method?: string;
}

export interface TslService {
  identifier: string;
  name?: string;
  desc?: string;
  required?: boolean;
  callType?: "async" | "sync" | string;
  /** For the standard `get` service this is a list of identifier strings. */
  inputData?: Array<TslParam | string>;
  outputData?: TslParam[] | "";
  method?: string;
}

export interface TslDocument {
  schema?: string;
  link?: string;
  profile: { productKey: string; deviceName?: string };
  properties?: TslProperty[];
  events?: TslEvent[];
  services?: TslService[];
}

// The part of JSON Schema (schemars output) that the page reads to build controls, with the extensions listed
// in www/PROTOCOL.md ("Schema extensions the controls follow"). Hand-written: the schema itself is data.
export interface Schema {
  $ref?: string;
  $defs?: Record<string, Schema>;
  type?: string | string[];
  format?: string;
  title?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  oneOf?: { const: string; description?: string }[];
  const?: unknown;
  'x-unit'?: string;
  'x-when'?: string;
  'x-item-label'?: string;
  'x-step'?: string;
}

/** The schema of a state document (`Manifest.schema`): the lab's params and the common view options. */
export interface StateSchema extends Schema {
  $defs: Record<string, Schema> & {
    Params: Schema & { properties: Record<string, Schema> };
    View: Schema & { properties: Record<string, Schema> };
  };
}

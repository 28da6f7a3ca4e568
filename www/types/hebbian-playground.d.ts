// The wasm module's exports (src/web/mod.rs), as trunk's wasm-bindgen build serves them at
// ./hebbian-playground.js. tsconfig.json's rootDirs lets `import … from './hebbian-playground.js'` in www/
// resolve here. wasm-bindgen types every JsValue as `any`; these are the shapes src/web/mod.rs serialises.
import type { Cost, DataFormat, FieldError, Frame, LabInfo, Manifest, Need } from './protocol';
import type { AnyState, Backend, EngineInfo } from './messages';

export default function init(): Promise<unknown>;

export function labs(): LabInfo[];
export function manifest(lab: string): Manifest;
export function default_state(lab: string): AnyState;
/**
 * A link's (or a JSON state document's) state, with its validation errors (empty when it can run). Throws an
 * Error whose message says what is wrong with an unreadable link.
 */
export function decode_link(text: string): { state: AnyState; errors: FieldError[] };
export function encode_link(state: AnyState): string;
/** Empty when the state can run. */
export function validate(state: AnyState): FieldError[];
/** The estimated cost of a run of a valid state. */
export function estimate(state: AnyState): Cost;
/** Browser seconds beyond which the page asks before starting a run. */
export function ask_seconds(): number;
/** What a checkpoint file holds, from its header; throws an Error saying what is wrong with the file. */
export function checkpoint_header(bytes: Uint8Array): { state: AnyState; step: number };

/** Upload progress of a load (src/data/loader.rs `Progress`). */
export interface LoadProgress {
  file: string | null;
  file_bytes: number;
  file_size: number | null;
  bytes: number;
  files_done: number;
}

export class WorkerEngine {
  private constructor();
  /** `measure_software`: `auto` keeps a software WebGPU so that `measure` can compare it (?calibrate=1). */
  static create(choice: Backend, measure_software: boolean): Promise<WorkerEngine>;
  info(): EngineInfo;
  /** `auto` on a GPU: both engines on `state` for ~budget_ms each, the faster kept; null when nothing to compare. */
  measure(state: AnyState, budget_ms: number): Promise<{ cpu: number; gpu: number } | null>;
  /** Applies figures measured on an earlier visit. */
  prefer(cpu: number, gpu: number): void;
  start(state: AnyState): void;
  /** Prepares the run a checkpoint file holds, at its step (`state`: its header's). */
  resume(state: AnyState, bytes: Uint8Array): void;
  /** The current run's checkpoint file; undefined when its lab saves none or it has learnt nothing yet. */
  save(): Uint8Array | undefined;
  missing(state: AnyState): Need | null;
  load_begin(need: Need): void;
  load_file(name: string, size?: number): void;
  load_push(chunk: Uint8Array): LoadProgress;
  load_end_file(): void;
  load_finish(): string;
  load_cancel(): void;
  add_photo(file: string, bytes: Uint8Array): void;
  photo_files(): string[];
  forget(format: DataFormat): boolean;
  user_datasets(): [DataFormat, unknown][];
  /** Up to `max_steps` steps (0: to the end), handing back control once `budget_ms` have passed. */
  advance(max_steps: number, budget_ms: number): Promise<Frame>;
  snapshot(): Frame;
  reset(): void;
  lose_device(): boolean;
}

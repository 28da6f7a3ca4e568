// Page ⇄ engine-worker messages (www/engine.js posts ToWorker and receives FromWorker; www/worker.js the
// reverse). Hand-written because they are JavaScript objects (File objects travel in them); the engine's own
// data in them (frames, needs, data formats) comes from the generated protocol.d.ts.
import type { DataFormat, EngineInfo, Frame, Need, StateDoc } from './protocol';

/** A lab's parameters: checked against the lab's schema in Rust, edited generically by the page. */
export type Params = Record<string, any>;
/** A state document whose params are not yet checked (Rust `AnyState`). */
export type AnyState = StateDoc<Params>;

/** Which engine to start: `gpu` still falls back to the CPU, with the reason, when it must. */
export type Backend = 'auto' | 'cpu' | 'gpu';

/** A data load's progress; `done: true` alone when the load ends. */
export type Progress =
  | { type: 'progress'; done: true }
  | { type: 'progress'; done: false; what: string; loaded: number; total: number | null; unit: 'bytes' | 'files' };

export type ToWorker =
  | { type: 'init'; backend: Backend; measure: Measure | null }
  /** `checkpoint`: the bytes of a checkpoint file of this state, to resume from instead of step 0. */
  | { type: 'start'; state: AnyState; checkpoint?: Uint8Array }
  /** Answered by `checkpoint`; `auto`: for the browser's own keeping, not a download. */
  | { type: 'save'; auto: boolean }
  | { type: 'run' }
  | { type: 'pause' }
  | { type: 'step' }
  | { type: 'reset' }
  | { type: 'lose_device' }
  | { type: 'load_files'; format: DataFormat; files: File[] }
  | { type: 'load_urls'; format: DataFormat; urls: string[] }
  | { type: 'forget'; format: DataFormat }
  /** Handled at once, not queued: the load it cancels holds the queue. */
  | { type: 'cancel_load' };

export type FromWorker =
  | { type: 'engine'; info: EngineInfo }
  // `auto` measured both engines on the lab (steps per millisecond), for the page to remember.
  | { type: 'measured'; adapter: string; cpu: number; gpu: number }
  | { type: 'frame'; frame: Frame }
  /** The current run's checkpoint file (null: its lab saves none, or it has learnt nothing yet). */
  | { type: 'checkpoint'; bytes: Uint8Array | null; auto: boolean }
  | { type: 'running'; running: boolean }
  | { type: 'error'; message: string }
  /** The state last started has no run: it waits for data, or it failed. */
  | { type: 'no_run' }
  /** Data only the user can give (`{kind: 'user', format}`); the page loads it, then starts again. */
  | { type: 'need_data'; need: Need }
  | Progress
  | { type: 'data_loaded'; format: DataFormat; line: string }
  | { type: 'data_error'; format: DataFormat; message: string; cancelled: boolean }
  | { type: 'forgotten'; format: DataFormat }
  /** The answer to `lose_device` (tests): whether there was a GPU device to lose. */
  | { type: 'device_lost_simulated'; done: boolean };

/** What `auto` measures on a GPU: the figures remembered from an earlier visit (same adapter), or none; `force`
 *  also measures a software WebGPU (?calibrate=1). */
export interface Measure {
  remembered: { adapter: string; cpu: number; gpu: number } | null;
  force: boolean;
}

/**
 * The line over the stage: where the replay is and which episode it is, what live stream is
 * drawn, or what the model holds, then the frame rate. Text from a plain snapshot.
 */
import type { LiveStreamInfo } from '../messages.ts';
import type { SceneSpec } from '../scene-spec.ts';
import type { ReplayState } from './replay.ts';
import type { Mode } from './toolbar.ts';

/** What the info line says. */
export interface InfoSnapshot {
  /** The page's mode. */
  mode: Mode;
  /** The replay. */
  replay: ReplayState;
  /** The live stream shown, the time of its last frame drawn (s), frames drawn, paused. */
  live: { stream: LiveStreamInfo | undefined; time: number | undefined; drawn: number; paused: boolean };
  /** The scene on the stage. */
  scene: SceneSpec | undefined;
  /** Contacts drawn in the first view. */
  contacts: number;
  /** Frames per second of the page. */
  fps: number;
  /** Fraction of the canvas resolution drawn. */
  renderScale: number;
}

/** The info line of a snapshot. */
export function infoLine(s: InfoSnapshot): string {
  const scale = s.renderScale < 0.999 ? ` · ${Math.round(100 * s.renderScale)}% resolution` : '';
  return `${modeText(s)} · ${s.fps.toFixed(0)} fps${scale}`;
}

function modeText(s: InfoSnapshot): string {
  if (s.mode === 'replay') return s.replay.episodes.length ? replayText(s.replay, s.contacts) : '';
  if (s.mode === 'live') {
    const { stream, time, drawn, paused } = s.live;
    if (!stream) return 'LIVE · waiting for a running study (arbor run … --view, or a study running beside arbor view)';
    return `LIVE · study ${stream.study} · worker ${stream.worker} · candidate ${stream.candidate} · seed ${stream.seed} · t ${time?.toFixed(2) ?? '–'} s · contacts ${s.contacts} · ${drawn} frames${paused ? ' · paused' : ''}`;
  }
  const spec = s.scene;
  return spec ? `model ${spec.name} · ${spec.bodies.length} bodies · ${spec.geoms.length} geoms · ${spec.cameras.length} cameras` : '';
}

function replayText(r: ReplayState, contacts: number): string {
  const a = r.episodes[0].header;
  const e = a.episode;
  let text = `t ${r.t.toFixed(2)} s · frame ${r.frame + 1}/${a.frames} · contacts ${contacts} · ${r.speed}×${r.playing ? '' : ' · paused'}`;
  if (e) text += ` · episode ${e.id} (candidate ${e.candidateId}, ${e.split} seed ${e.seed}): ${e.outcome}, score ${e.score?.toFixed(3) ?? '–'}`;
  if (a.jointStatesOnly) text += ' · joint states only (forward kinematics)';
  return text;
}

/** The Parts verdict in words, against hand-made rows: clearly / a little / not, per layer, against its own control. */
import { describe, expect, it } from 'vitest';
import { partVerdicts } from '../../renderer/features/parts/parts-verdict';
import type { CorrespondenceResult } from '../../shared/contract';

const row = (part: string, layer: string, meanSignChange: number, std: number) => ({ part, layer, meanSignChange, std, delta: 0 });

describe('parts verdict', () => {
  it('compares each part with random boxes of its own size, layer by layer', () => {
    const r: CorrespondenceResult = {
      layers: ['conv1', 'conv3', 'conv5'],
      images: ['a', 'b'],
      rows: [
        row('heel', 'conv1', 0.5, 0.05),
        row('heel', 'conv3', 0.4, 0.05),
        row('heel', 'conv5', 0.2, 0.05),
        row('random (heel size)', 'conv1', 0.48, 0.02),
        row('random (heel size)', 'conv3', 0.42, 0.02),
        row('random (heel size)', 'conv5', 0.4, 0.02),
        row('toe', 'conv1', 0.1, 0.01),
        row('random (toe size)', 'conv1', 0.3, 0.02),
      ],
    };
    const [heel, toe] = partVerdicts(r);
    expect(heel).toMatchObject({ part: 'heel', clearly: ['conv5'], aLittle: ['conv3'], not: ['conv1'] });
    expect(heel.sentence).toBe(
      '“heel”: clearly coded the same way across the images in conv5; a little more alike than random boxes in conv3; no more alike than random boxes in conv1.',
    );
    // Layers missing for a part are left out; the toe's control is its own, not the heel's.
    expect(toe).toMatchObject({ part: 'toe', clearly: ['conv1'], aLittle: [], not: [] });
  });

  it('lists several layers in words', () => {
    const r: CorrespondenceResult = {
      layers: ['a', 'b', 'c'],
      images: [],
      rows: ['a', 'b', 'c'].flatMap((l) => [row('eye', l, 0.1, 0.01), row('random (eye size)', l, 0.5, 0.01)]),
    };
    expect(partVerdicts(r)[0].sentence).toBe('“eye”: clearly coded the same way across the images in a, b and c.');
  });
});

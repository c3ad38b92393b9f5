/**
 * Momentum SGD on arrays, for steps whose gradients arrive as arrays (ONNX Runtime's): tf.train.momentum's update
 * (a ← m·a + g, then w ← w − lr·a) in plain loops, where tfjs spends four ops and two assignments per weight
 * (4 ms of the bundled model's 70 ms step, most of it dispatch). Each group's learning rate is read from its
 * optimizer at every step, so the loop's schedule applies. The accumulations live here while the run uses them;
 * `syncInto` hands them back to the optimizers before anything reads those: a saved state, a step taken by tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';

interface Group {
  names: Set<string>;
  optimizer: tf.Optimizer;
}

export class ArrayMomentum {
  private steps = 0;

  private constructor(
    private readonly trainable: tf.Variable[],
    private readonly groups: Group[],
    private readonly momentum: number,
    /** Per trainable weight, its accumulation. */
    private readonly slots: Float32Array[],
    /** Per group, the indices of its weights in `trainable` (the order its optimizer keeps their slots in). */
    private readonly members: number[][],
    private readonly iterationsAtStart: number[],
  ) {}

  /** Takes over the groups' accumulations (zeros where an optimizer has taken no step yet). */
  static async start(trainable: tf.Variable[], groups: Group[], momentum: number): Promise<ArrayMomentum> {
    const slots = trainable.map((v) => new Float32Array(v.size));
    const members = groups.map((g) => trainable.flatMap((v, i) => (g.names.has(v.name) ? [i] : [])));
    for (const [k, g] of groups.entries()) {
      const named = await g.optimizer.getWeights();
      named[0]?.tensor.dispose(); // the step count, handed out as a new tensor
      named.slice(1).forEach((slot, j) => slots[members[k][j]].set(slot.tensor.dataSync() as Float32Array));
    }
    return new ArrayMomentum(
      trainable,
      groups,
      momentum,
      slots,
      members,
      groups.map((g) => g.optimizer.iterations),
    );
  }

  /**
   * One step from `summed` (the batch's summed gradients) over `n` images, each weight decaying by `decays[i]`,
   * at `weights` (updated, then assigned); returns Σw² over the decaying weights before the step (the loss's term).
   */
  step(weights: Float32Array[], summed: Float32Array[], n: number, decays: number[]): number {
    let squares = 0;
    for (const [k, g] of this.groups.entries()) {
      const rate = (g.optimizer as unknown as { learningRate: number }).learningRate;
      for (const i of this.members[k]) squares += accumulate(this.slots[i], summed[i], weights[i], { m: this.momentum, rate, n, decay: decays[i] });
    }
    tf.tidy(() => this.trainable.forEach((v, i) => v.assign(tf.tensor(weights[i], v.shape))));
    this.steps++;
    return squares;
  }

  /** The accumulations and step counts back into the optimizers (their previous slots freed). */
  async syncInto(): Promise<void> {
    for (const [k, g] of this.groups.entries()) {
      const previous = await g.optimizer.getWeights();
      previous[0]?.tensor.dispose();
      const fresh = [
        tf.scalar(this.iterationsAtStart[k] + this.steps, 'int32'),
        ...this.members[k].map((i) => tf.tensor(this.slots[i], this.trainable[i].shape)),
      ];
      await g.optimizer.setWeights(fresh.map((tensor, j) => ({ name: j === 0 ? 'iter' : `${this.trainable[this.members[k][j - 1]].name}/momentum`, tensor })));
      // The optimizer made variables of the fresh tensors (sharing their data); the old slots are its no longer.
      fresh.forEach((t) => t.dispose());
      previous.slice(1).forEach((slot) => slot.tensor.dispose());
    }
  }
}

/**
 * a ← m·a + (g / n + decay·w); w ← w − rate·a, in place, in one pass (the mean and decay folded in: each pass over
 * half a million weights costs about a millisecond); returns Σw² before the step where the weight decays, else 0.
 */
function accumulate(a: Float32Array, g: Float32Array, w: Float32Array, { m, rate, n, decay }: { m: number; rate: number; n: number; decay: number }): number {
  let squares = 0;
  for (let j = 0; j < a.length; j++) {
    const wj = w[j];
    squares += wj * wj;
    a[j] = m * a[j] + (g[j] / n + decay * wj);
    w[j] = wj - rate * a[j];
  }
  return decay ? squares : 0;
}

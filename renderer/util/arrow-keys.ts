/** The arrow keys as [row, column] steps, for views the keyboard moves through (part boxes, confusion-matrix cells). */
export const ARROW_STEPS: Readonly<Record<string, readonly [number, number]>> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

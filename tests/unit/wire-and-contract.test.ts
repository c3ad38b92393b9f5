/** The wire format and the contract's validation: typed arrays survive as bytes; bad payloads are BAD_ARGUMENT. */
import { describe, expect, it } from 'vitest';
import { COMMANDS, EVENTS } from '../../shared/contract';
import { ERROR_CODES, fromErrorInfo, InspectorError, toErrorInfo } from '../../shared/errors';
import { decodeMessage, encodeMessage } from '../../shared/wire';
import { createRemoteInspector } from '../../shared/client';
import { validateCommand } from '../../electron/engine/validate';

describe('wire format', () => {
  it('carries Float32Array and Uint8Array as raw bytes, not JSON lists, and restores them exactly', () => {
    const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const png = Uint8Array.from([137, 80, 78, 71, 1, 2, 3]);
    const frame = encodeMessage({ kind: 'result', id: 7, ok: true, value: { layer: 'conv1', shape: [10, 10, 10], data, png } });
    // 4000 bytes of floats + header: a JSON list of 1000 floats would be ~19 000 bytes.
    expect(frame.length).toBeLessThan(4300);
    const back = decodeMessage(frame);
    expect(back.kind).toBe('result');
    const value = (back as { value: { data: Float32Array; png: Uint8Array; shape: number[] } }).value;
    expect(value.data).toBeInstanceOf(Float32Array);
    expect(Array.from(value.data)).toEqual(Array.from(data));
    expect(Array.from(value.png)).toEqual(Array.from(png));
    expect(value.shape).toEqual([10, 10, 10]);
  });

  it('rejects truncated frames', () => {
    const frame = encodeMessage({ kind: 'event', name: 'jobProgress', payload: { a: new Float32Array(8) } });
    expect(() => decodeMessage(frame.subarray(0, frame.length - 3))).toThrow(/truncated/);
  });
});

describe('contract', () => {
  it('has unique command and event names and every error code is upper snake case', () => {
    expect(new Set(COMMANDS).size).toBe(COMMANDS.length);
    expect(new Set(EVENTS).size).toBe(EVENTS.length);
    for (const code of ERROR_CODES) expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
  });

  it('errors keep their code across a boundary; unknown errors become INTERNAL', () => {
    const info = toErrorInfo(new InspectorError('LAYER_NOT_FOUND', 'no conv9'));
    expect(info).toEqual({ code: 'LAYER_NOT_FOUND', message: 'no conv9' });
    expect(fromErrorInfo(info).code).toBe('LAYER_NOT_FOUND');
    expect(toErrorInfo(new Error('boom')).code).toBe('INTERNAL');
  });

  it('validates payloads: unknown command, wrong types, bad image refs', () => {
    const code = (name: unknown, params: unknown) => {
      try {
        validateCommand(name, params);
        return 'ok';
      } catch (e) {
        return (e as InspectorError).code;
      }
    };
    expect(code('dropTables', {})).toBe('UNKNOWN_COMMAND');
    expect(code('predict', { image: { source: 'dataset', index: -1 } })).toBe('BAD_ARGUMENT');
    expect(code('predict', { image: { source: 'disk', path: '/etc/passwd' } })).toBe('BAD_ARGUMENT');
    expect(code('activations', { image: { source: 'dataset', index: 0 }, layer: 3 })).toBe('BAD_ARGUMENT');
    expect(code('listImages', { offset: 'a', limit: 2 })).toBe('BAD_ARGUMENT');
    expect(code('startJob', { kind: 'mine-bitcoin', params: {} })).toBe('BAD_ARGUMENT');
    expect(code('uploadImage', { name: 'x.png', bytes: 'not bytes' })).toBe('BAD_ARGUMENT');
    expect(code('predict', { image: { source: 'dataset', index: 3 }, top: 5 })).toBe('ok');
    expect(code('getState', undefined)).toBe('ok');
  });

  it('the remote client turns results into values and errors into InspectorErrors, and fans out events', async () => {
    const sent: unknown[] = [];
    let deliver: (m: ReturnType<typeof decodeMessage>) => void = () => undefined;
    const client = createRemoteInspector({
      send: (m) => sent.push(decodeMessage(encodeMessage(m))),
      onMessage: (h) => (deliver = h),
      onClose: () => undefined,
    });
    const ok = client.listImages({ offset: 0, limit: 1 });
    const bad = client.activations({ image: { source: 'dataset', index: 0 }, layer: 'nope' });
    expect(sent).toHaveLength(2);
    deliver({ kind: 'result', id: 1, ok: true, value: { total: 0, offset: 0, images: [] } });
    deliver({ kind: 'result', id: 2, ok: false, error: { code: 'LAYER_NOT_FOUND', message: 'no layer nope' } });
    await expect(ok).resolves.toEqual({ total: 0, offset: 0, images: [] });
    await expect(bad).rejects.toMatchObject({ code: 'LAYER_NOT_FOUND' });
    const seen: number[] = [];
    const dispose = client.onJobProgress((e) => seen.push(e.done));
    deliver({ kind: 'event', name: 'jobProgress', payload: { jobId: 'j', kind: 'evaluate', done: 3, total: 9, message: '' } });
    dispose();
    deliver({ kind: 'event', name: 'jobProgress', payload: { jobId: 'j', kind: 'evaluate', done: 4, total: 9, message: '' } });
    expect(seen).toEqual([3]);
  });
});

// REST error bodies and WebSocket error messages: every error class crosses as the same class, code and data.
import { describe, expect, it } from 'vitest';
import {
  apiErrorBody, apiErrorFromWire, httpStatusForCode, parseApiErrorBody, parseCoordinatorToVolunteerMessage, parseRouteResponse,
} from '../../../core/api/index.ts';
import { errorCodes } from '../../../core/errors/index.ts';
import { errorSamples } from '../errors/samples.ts';

function overJson<T>(v: T): unknown {
  return JSON.parse(JSON.stringify(v));
}

describe('API error bodies', () => {
  it('rebuild every error class from a REST body as the same class, code and data', () => {
    for (const { error, kind } of errorSamples()) {
      const parsed = parseApiErrorBody(overJson(apiErrorBody(error)));
      if (!parsed.ok) throw parsed.error;
      const back = apiErrorFromWire(parsed.value);
      expect(back).toBeInstanceOf(kind);
      expect(back).toMatchObject({ code: error.code, message: error.message, data: error.data });
    }
  });

  it('keep the documented fields: code, message and field for the offending field', () => {
    const api = errorSamples()[2]?.error;
    expect(overJson(apiErrorBody(api))).toMatchObject({ code: 'model-mismatch', field: 'modelId' });
    expect(apiErrorBody(api)).not.toHaveProperty('kind');
  });

  it('rebuild every error class from a volunteer socket error message', () => {
    for (const { error, kind } of errorSamples()) {
      const parsed = parseCoordinatorToVolunteerMessage(overJson({ type: 'error', error: apiErrorBody(error) }));
      if (!parsed.ok) throw parsed.error;
      if (parsed.value.type !== 'error') throw new Error('not an error message');
      const back = apiErrorFromWire(parsed.value.error);
      expect(back).toBeInstanceOf(kind);
      expect(back).toMatchObject({ code: error.code, data: error.data });
    }
  });

  it('keep the server code of a refused route (model-mismatch stays model-mismatch)', () => {
    const body = apiErrorBody(errorSamples()[2]?.error);
    const parsed = parseRouteResponse(overJson({ kind: 'error', error: body }));
    expect(parsed.ok && parsed.value.kind === 'error' && parsed.value.error.code).toBe('model-mismatch');
  });

  it('refuse an unknown code or non-flat data as bad-request naming the field', () => {
    const unknown = parseApiErrorBody({ code: 'exploded', message: 'm' });
    expect(unknown.ok ? 'ok' : [unknown.error.code, unknown.error.field]).toEqual(['bad-request', 'code']);
    const nested = parseApiErrorBody({ code: 'timeout', message: 'm', data: [1] });
    expect(nested.ok ? 'ok' : [nested.error.code, nested.error.field]).toEqual(['bad-request', 'data']);
  });

  it('send a non-Bouquet error as internal (HTTP 500)', () => {
    const body = apiErrorBody(new TypeError('x is undefined'));
    expect([body.code, httpStatusForCode(body.code)]).toEqual(['internal', 500]);
  });

  it('has an HTTP status for every code', () => {
    for (const code of errorCodes) expect(httpStatusForCode(code)).toBeGreaterThanOrEqual(400);
  });
});

/** Reference data and the registry's answer to ad sites: the work types, and the OK label (docs/label.md). */
import type { FastifyInstance } from 'fastify';
import { WORK_TYPES, WORK_TYPE_DESCRIPTIONS } from '../model/reading';
import { decideLabel } from '../queries/label';
import { brusselsToday, isCalendarDate } from '../rules/brussels-date';
import { MAX_ODOMETER, VIN_PATTERN_ANY_CASE } from '../rules/record-checks';
import { HttpProblem } from './problems';
import { json, problems } from './schemas';
import { SENDER_ROLES } from './auth';
import type { HttpDeps } from './deps';

export async function referenceRoutes(app: FastifyInstance, opts: { deps: HttpDeps }): Promise<void> {
  const { deps } = opts;

  app.get(
    '/activities',
    {
      config: { roles: SENDER_ROLES },
      schema: {
        summary: 'The work types a reading is sent with, described in nl, fr, de and en',
        tags: ['reference'],
        response: { 200: json('the work types', { type: 'array', items: { $ref: 'Activity#' } }), ...problems(403) },
      },
    },
    async () => WORK_TYPES.map((code) => ({ code, description: WORK_TYPE_DESCRIPTIONS[code] })),
  );

  app.get<{ Params: { vin: string }; Querystring: { mileage: number; date?: string } }>(
    '/vehicles/:vin/label',
    {
      config: { roles: ['portal', 'admin'] },
      schema: {
        summary: 'The OK label decision for a used-car ad',
        description: 'The same decision, with every reason that blocks it, as `inflow label <vin> --json`.',
        tags: ['label'],
        params: {
          type: 'object',
          required: ['vin'],
          properties: {
            vin: { type: 'string', pattern: VIN_PATTERN_ANY_CASE, description: '17 letters and digits, no I, O or Q' },
          },
        },
        querystring: {
          type: 'object',
          required: ['mileage'],
          properties: {
            mileage: { type: 'integer', minimum: 0, maximum: MAX_ODOMETER, description: 'advertised mileage, km' },
            date: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'date of the ad (default: today in Brussels)' },
          },
        },
        response: { 200: json('the decision', { $ref: 'LabelDecision#' }), ...problems(400, 403) },
      },
    },
    async (req) => {
      const date = req.query.date ?? brusselsToday(new Date());
      if (!isCalendarDate(date))
        throw new HttpProblem(400, `date must be a calendar date, got "${date}"`, {
          errors: [{ field: 'date', message: 'not a calendar date' }],
        });
      return decideLabel(deps.store, req.params.vin.toUpperCase(), req.query.mileage, date);
    },
  );
}

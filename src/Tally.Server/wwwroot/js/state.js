// @ts-check
// What the page holds between polls, and the shapes of the API's answers it reads (docs/api.md).

/**
 * @typedef {{ signedIn: boolean, tenant?: string, role?: string, now?: string }} Session
 * @typedef {{ status: string | number, expectedMinutes?: number, deltaMinutes?: number, deltaPercent?: number | null }} RunRate
 * @typedef {{ projectedDemandLowMinutes: number, projectedDemandHighMinutes: number,
 *   includedRunOutEarliest?: string | null, includedRunOutEarliestOutcome?: string | null,
 *   includedRunOutLatest?: string | null, includedRunOutLatestOutcome?: string | null,
 *   limitRunOutEarliest?: string | null, limitRunOutEarliestOutcome?: string | null,
 *   limitRunOutLatest?: string | null, limitRunOutLatestOutcome?: string | null }} ForecastRange
 * @typedef {{ workingDayMinutes: number, trendPercentPerWeek: number, levelShiftDay?: string | null, historyDays: number,
 *   holidayCountry?: string | null, closureDays: number }} ForecastModel
 * @typedef {{ projectedMinutes?: number | null, projectedDemandMinutes?: number | null, includedRunOut?: string | null,
 *   includedRunOutOutcome?: string | number | null, limitRunOut?: string | null, limitRunOutOutcome?: string | number | null,
 *   range?: ForecastRange | null, model?: ForecastModel | null, [key: string]: unknown }} Forecast
 * @typedef {{ period: string, start: string, end: string, includedMinutes?: number | null, limitMinutes?: number | null,
 *   unlimited?: boolean, licenseCoverage?: string, consumedMinutes: number, overageMinutes: number, remainingMinutes?: number | null,
 *   units: number, deniedEvents: number, events: number, runRate?: RunRate | null, forecast?: Forecast | null }} Summary
 * @typedef {{ start: string, end: string, units: number, minutes: number, activeUsers: number, deniedEvents: number }} Bucket
 * @typedef {{ period: string, granularity: string, timeZone: string, buckets: Bucket[] }} Timeline
 * @typedef {{ sort?: string, order?: string, offset?: number, total?: number, [name: string]: unknown }} TablePage
 * @typedef {{ user: string, deniedEvents: number, reasons: Record<string, number> }} DenialRow
 * @typedef {{ period: string, users: DenialRow[], total: number }} Denials
 * @typedef {{ customer: string, licenseId: string, validFrom: string, validTo: string, packs: number, packMinutes: number,
 *   includedMinutes: number, overage: string, unitMinutes: number, mode: string, timeZone: string }} License
 * @typedef {{ name: string, units: number, unitsUsed: number }} Allotment
 * @typedef {{ period: { id: string }, allotments?: Allotment[] }} Overview
 * @typedef {{ ruleKind?: string, subject?: string, message?: string, firedAt?: string, status?: string, channelKind?: string }} Alert
 * @typedef {{ alerts?: Alert[] }} Alerts
 * @typedef {{ state: string, lastSuccess?: string | null, watermark?: string | null, lagSeconds?: number | null, records: number,
 *   repeats: number, conflicts: number, failure?: string | null, lastError?: string | null, rejected?: number, lastRejection?: string | null }} SourceStatus
 * @typedef {{ id: string, kind: string, url: string, intervalSeconds: number, enabled: boolean, status: SourceStatus }} Source
 * @typedef {{ user: string, monthlyMinutes: number, monthlySaving: number }} AdviceRow
 * @typedef {{ currency?: string, breakEvenMinutes: number, totalMonthlySaving?: number, toAnalyzerSeat?: AdviceRow[], toCapacity?: AdviceRow[] }} Advice
 * @typedef {{ idleReloadUnits: number, idleReloadMinutes: number, reloadUnits: number, reloadMinutes: number }} WasteFigures
 * @typedef {WasteFigures & { user: string }} WasteUser
 * @typedef {WasteFigures & { app: string, idleUsers: number }} WasteApp
 * @typedef {WasteFigures & { hour: number }} WasteHour
 * @typedef {WasteFigures & { period: string, timeZone: string, quietMinutes: number, consumedMinutes: number,
 *   includedMinutes?: number | null, shareOfConsumed?: number | null, shareOfIncluded?: number | null,
 *   users: WasteUser[], userCount: number, apps: WasteApp[], appCount: number, hours: WasteHour[] }} Waste
 * @typedef {{ summary: Summary, users: TablePage, apps: TablePage, license: License | null, overview: Overview | null,
 *   denials: Denials | null, daily: Timeline | null, hourly: Timeline | null, active: number, alerts: Alerts | null,
 *   advice: Advice | null, sources: Source[] | null, waste: Waste | null, now: string }} View everything one render draws
 * @typedef {{ sort: string, order: string, page: number, query: string }} TableState
 */

export const state = {
  /** @type {Session | null} */
  session: null,
  /** @type {string | null} the chosen YYYY-MM, or null for the current one */
  period: null,
  /** @type {string | null} */
  currentPeriod: null,
  /** @type {ReturnType<typeof setInterval> | null} */
  timer: null,
  /** @type {Promise<void> | null} the refresh under way, if any (sign-out waits for it, so no read runs after the session ends) */
  inflight: null,
  /** a refresh was asked for while one ran: run once more when it ends */
  again: false,
  /** the refresh asked for meanwhile must read everything (a new period, new prices) */
  againForced: false,
  /** @type {string | null} the ledger's version stamp at the last full read */
  version: null,
  /** @type {number} when (performance.now(), only for pacing) the slow resources were last read; -Infinity: never */
  slowReadAt: -Infinity,
  /** @type {View | null} */
  lastRender: null,
  /** @type {Record<string, TableState>} */
  tables: {},
};

/** Forgets everything of the last session or period. */
export function resetState() {
  Object.assign(state, { period: null, currentPeriod: null, version: null, slowReadAt: -Infinity, lastRender: null, tables: {} });
}

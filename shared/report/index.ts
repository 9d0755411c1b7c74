import { safeJson } from '../text.js';
import { reportCsv } from './csv.js';
import { reportHtml } from './html.js';
import type { Report } from './model.js';

export { reportCsv } from './csv.js';
export { reportHtml } from './html.js';
export { buildReport, REPORT_SCHEMA, type Report, type ReportOptions } from './model.js';

export type ReportFormat = 'html' | 'json' | 'csv';
export const REPORT_FORMATS: readonly ReportFormat[] = ['html', 'json', 'csv'];

/** The media type of each format, for S3 objects and the local page. */
export const CONTENT_TYPES: Readonly<Record<ReportFormat, string>> = {
  html: 'text/html; charset=utf-8',
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/** The report in one format, as text. */
export const renderReport = (report: Report, format: ReportFormat): string =>
  format === 'html' ? reportHtml(report) : format === 'csv' ? reportCsv(report) : `${safeJson(report, 2)}\n`;

/** A reading that passed the record checks: the values the history rules and the store work with. */
import type { Finding } from './issue-catalogue';
import type { RecordFields } from './file-items';

/** The work types of a reading (docs/formats.md). */
export type WorkType = 'MAINT' | 'REPAIR' | 'BODY' | 'TYRES' | 'PARTS' | 'INSPECT' | 'ODOREP' | 'OTHER';

/** Every WorkType, in the order of the spec. */
export const WORK_TYPES: readonly WorkType[] = ['MAINT', 'REPAIR', 'BODY', 'TYRES', 'PARTS', 'INSPECT', 'ODOREP', 'OTHER'];

/** A description in each of Belgium's languages, and English. */
export interface Descriptions {
  nl: string;
  fr: string;
  de: string;
  en: string;
}

/** What each work type means (GET /api/v1/activities, docs/formats.md). */
export const WORK_TYPE_DESCRIPTIONS: Readonly<Record<WorkType, Descriptions>> = {
  MAINT: { nl: 'Onderhoud', fr: 'Entretien', de: 'Wartung', en: 'Service' },
  REPAIR: {
    nl: 'Mechanische, elektrische of elektronische herstelling',
    fr: 'Réparation mécanique, électrique ou électronique',
    de: 'Mechanische, elektrische oder elektronische Reparatur',
    en: 'Mechanical, electrical or electronic repair',
  },
  BODY: { nl: 'Carrosseriewerk', fr: 'Carrosserie', de: 'Karosseriearbeiten', en: 'Bodywork' },
  TYRES: { nl: 'Banden', fr: 'Pneus', de: 'Reifen', en: 'Tyres' },
  PARTS: {
    nl: 'Uitlaat, batterij, radio, alarm, andere onderdelen of accessoires',
    fr: 'Échappement, batterie, radio, alarme, autres pièces ou accessoires',
    de: 'Auspuff, Batterie, Radio, Alarmanlage, andere Teile oder Zubehör',
    en: 'Exhaust, battery, radio, alarm, other parts or accessories',
  },
  INSPECT: { nl: 'Technische keuring', fr: 'Contrôle technique', de: 'Technische Prüfung', en: 'Technical inspection' },
  ODOREP: { nl: 'Kilometerteller vervangen', fr: 'Compteur kilométrique remplacé', de: 'Kilometerzähler ersetzt', en: 'Odometer replaced' },
  OTHER: { nl: 'Andere', fr: 'Autre', de: 'Sonstiges', en: 'Other' },
};

/** Kilometres in one international mile. */
export const KM_PER_MILE = 1.609344;

/** One checked reading. */
export interface Reading {
  ref: string | null;
  /** Upper-cased; null when only a plate was given (the register lookup fills it in later). */
  vin: string | null;
  /** Normalised: upper-case, no spaces or dashes; null when none was given. */
  plate: string | null;
  /** YYYY-MM-DD. */
  date: string;
  /** As shown on the dashboard, in `unit`. */
  odometer: number;
  unit: 'km' | 'mi';
  /** The odometer value in km (miles × 1.609344, rounded), for comparisons. */
  km: number;
  work: WorkType;
  replaced: boolean;
  digits: 5 | null;
  /** The error number this record corrects, or null. */
  corrects: string | null;
}

/** kmOf converts a dashboard value to km for comparisons (miles × 1.609344, rounded): the one place this is done. */
export function kmOf(odometer: number, unit: 'km' | 'mi'): number {
  return unit === 'mi' ? Math.round(odometer * KM_PER_MILE) : odometer;
}

/** A stored reading as the OK label reads it. */
export interface LabelReading {
  date: string;
  odometer: number;
  unit: 'km' | 'mi';
  km: number;
  digits: number | null;
  sender: string;
}

/**
 * A record of a file after the checks that need nothing but the record (rules/record-checks.ts): the one shape a
 * record has from the reader to the store. `reading` when it passed them; `fields` (as sent) only when it did not.
 */
export interface CheckedRecord {
  /** The record's key in the file: the line where it starts (CSV), its position among the root's records (XML). */
  line: number;
  /** XML: the line where the record's element starts (readings may share a line, so it cannot be the key). */
  startLine?: number;
  reading: Reading | null;
  fields: RecordFields | null;
  findings: Finding[];
}

// What every page about the city's devices and alerts shares, so a device or an alert
// reads the same everywhere: the districts (names from the console's own outlines), and
// an alert's kind and severity in words.
import { badge } from "./dom.js";
import { lang, t } from "./i18n.js";

export const DISTRICTS_URL = new URL("../data/districts.geojson", import.meta.url).href;
export const KINDS = ["air", "bin_full", "fault", "offline"];
export const SEVERITIES = ["critical", "major", "minor"];

let outlines = null;

/** The schematic district outlines (console/data/districts.geojson), fetched once (a failed
 * fetch may be tried again). */
export function districtOutlines() {
  if (!outlines) {
    outlines = fetch(DISTRICTS_URL).then((response) => {
      if (!response.ok) throw new Error(`districts: HTTP ${response.status}`);
      return response.json();
    });
    outlines.catch(() => (outlines = null));
  }
  return outlines;
}

/** District names: as the city writes them in Korean; in English, the romanized code
 * ("naeoe-dong" -> "Naeoe-dong"). A code missing from the outlines shows as itself. */
export async function districtNames() {
  const english = lang() === "en";
  try {
    const { features } = await districtOutlines();
    return new Map(features.map((f) => {
      const { code, name } = f.properties;
      return [code, english ? code.charAt(0).toUpperCase() + code.slice(1) : name];
    }));
  } catch {
    return new Map();
  }
}

/** The city's districts as a Map code -> name in the console's language, in that order. */
export async function districts() {
  const names = await districtNames();
  return new Map([...names].sort((a, b) => a[1].localeCompare(b[1], "ko")));
}

/** A district's name: 내외동 / Naeoe-dong (its code when the outlines do not name it). */
export function districtName(code, known = new Map()) {
  return code ? known.get(code) || code : "—";
}

export function kindName(kind) {
  return t(`city.kind.${kind}`);
}

export function severityName(severity) {
  return t(`city.severity.${severity}`);
}

export function severityBadge(severity) {
  return badge(severityName(severity), severity);
}

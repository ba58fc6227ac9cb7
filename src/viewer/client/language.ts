/**
 * A language tag every Intl constructor accepts. Browsers can report a POSIX locale as their
 * language: Chromium under `LANG=C.UTF-8` says `en-US@posix`, and `new Intl.NumberFormat('en-US@posix')`
 * throws a RangeError.
 */

/** The tag used when the browser's language says nothing usable. */
export const FALLBACK_LANGUAGE = 'en-US';

/**
 * `raw` in canonical form when it is a valid BCP 47 tag; else its POSIX locale name as a tag
 * (`de_DE.UTF-8@euro` → `de-DE`, `en-US@posix` → `en-US`); else `en-US` (also for `C` and `POSIX`).
 */
export function languageTag(raw: string | null | undefined): string {
  if (!raw) return FALLBACK_LANGUAGE;
  const posixName = raw.split(/[.@]/)[0].replaceAll('_', '-');
  if (/^(c|posix)$/i.test(posixName)) return FALLBACK_LANGUAGE;
  for (const candidate of [raw, posixName]) {
    try {
      const [tag] = Intl.getCanonicalLocales(candidate);
      if (tag) return tag;
    } catch {
      // Not a tag: try the next reading.
    }
  }
  return FALLBACK_LANGUAGE;
}

/**
 * Makes `nav.language` a valid tag when it is not, so that code formatting with it (uPlot builds
 * its number formatter from it as its module loads) does not throw.
 */
export function useValidLanguage(nav: Navigator): void {
  const tag = languageTag(nav.language);
  if (tag !== nav.language) Object.defineProperty(nav, 'language', { value: tag, configurable: true });
}

/**
 * The page's first script, run before the app and the libraries it imports load: uPlot formats
 * numbers with `navigator.language` from the moment its module is evaluated, and a POSIX locale
 * there (`en-US@posix`) would throw and leave the page empty.
 */
import { useValidLanguage } from './language.ts';

useValidLanguage(navigator);

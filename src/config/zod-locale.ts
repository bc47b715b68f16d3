/**
 * The gateway's schemas use `zod/mini` (about a third of classic zod in the bundle), which ships no
 * error messages of its own: this installs zod's English ones, the same text classic zod gives
 * ("Too small: expected number to be >=60"), which configuration problems and 400s quote. Only this
 * one locale is imported; `z.locales` would pull every language into the Worker.
 *
 * Imported for its effect by every module that parses with zod, so a message is English whichever
 * of them runs first (a test may load only one). Installing it twice is harmless.
 */
import { config } from 'zod/mini'
import en from 'zod/v4/locales/en.js'

config(en())

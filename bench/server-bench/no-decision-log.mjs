// @ts-check
/**
 * `node --import ./no-decision-log.mjs bin/gavel.js serve …`: `gavel serve` with the decision
 * log switched off, for the benchmark's log-on/log-off comparison. serve has no setting for
 * that, so a module hook (no-decision-log-hooks.mjs) hands its Decider no log, as buildApp
 * does when given none; everything else is `gavel serve` as shipped.
 */
import { register } from 'node:module';

register('./no-decision-log-hooks.mjs', import.meta.url);

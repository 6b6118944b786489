import type { TargetFactory } from '../app.js';

/** Every target teleops can operate; each decides from the config whether it is enabled. */
export const TARGETS: readonly TargetFactory[] = [];

import type { RuntimeDescriptor } from '../src/descriptor';
import { go } from './go/runtime';
import { java } from './java/runtime';
import { custom } from './custom/runtime';
import { image } from './image/runtime';
import { node } from './node/runtime';
import { python } from './python/runtime';

/** Every runtime the platform runs, one line each; a new runtime is a folder beside these and a line here. */
export const RUNTIMES: readonly RuntimeDescriptor[] = [node, python, go, java, custom, image];

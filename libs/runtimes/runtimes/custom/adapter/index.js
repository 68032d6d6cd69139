#!/usr/bin/env node
'use strict';
/**
 * The custom runtime's worker: the frame protocol on fd 3 to the invoker, HTTP to the function's own process on
 * 127.0.0.1:$PORT inside the sandbox (see proxy.js). Its only mode is the worker's (the mode argument is ignored).
 */
require('./proxy').runProxy();

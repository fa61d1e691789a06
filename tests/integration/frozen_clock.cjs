// Test-only Node preload: the gateway stamps transformed stream chunks with Date.now() (`created`, and
// ids like `anthropic-<ms>`). Two gateways whose clocks read the same instant produce comparable bytes.
'use strict';
const FROZEN_MS = 1796000000000;
Date.now = () => FROZEN_MS;

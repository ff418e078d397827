#!/usr/bin/env node
// The CLI runs from the compiled build (npm ci runs `prepare`, which builds dist/).
require('../dist/cli/main.js');

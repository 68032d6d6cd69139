// End-to-end steps build and deploy through the whole platform: Jest's 5 s is too short for them on a loaded
// 2-CPU machine. (A project's `testTimeout` is not applied per project, so each project sets its own here.)
require('@jest/globals').jest.setTimeout(60_000);

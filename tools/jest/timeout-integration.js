// Integration specs start real services (workers, brokers, databases): 30 s for a step and its hooks.
require('@jest/globals').jest.setTimeout(30_000);

import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { FunctionPatterns, RuntimeView } from '@platform/contracts';
import { describeRuntimes } from '@platform/runtimes';

/** The runtimes, from their descriptors, with the versions installed here: what create and update resolve against. */
@Controller()
export class RuntimesController {
  @MessagePattern(FunctionPatterns.ListRuntimes)
  list(): RuntimeView[] {
    return describeRuntimes();
  }
}

import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { RmqContext, RmqOptions } from '@nestjs/microservices';
import { Observable, finalize } from 'rxjs';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { rpcServerOptions } from '@platform/messaging';

/**
 * Nest's RabbitMQ server never acknowledges a handled request when it consumes with noAck: false
 * (the shared rpcServerOptions do), so after `prefetchCount` requests the queue stops delivering.
 * This acknowledges each request once its handler is done. It switches itself off when the shared
 * options consume with noAck, so it cannot double-acknowledge once the library handles it.
 */
@Injectable()
export class RpcAckInterceptor implements NestInterceptor {
  private readonly enabled: boolean;

  constructor(@Inject(SETTINGS) settings: CommonSettingsValues) {
    const options = rpcServerOptions(settings, 'function-registry') as RmqOptions;
    this.enabled = options.options?.noAck === false;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.enabled || context.getType() !== 'rpc') return next.handle();
    const rmq = context.switchToRpc().getContext<RmqContext>();
    let acked = false;
    return next.handle().pipe(
      finalize(() => {
        if (acked) return;
        acked = true;
        rmq.getChannelRef().ack(rmq.getMessage());
      }),
    );
  }
}

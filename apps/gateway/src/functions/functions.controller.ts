import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags, OmitType } from '@nestjs/swagger';
import type { Response } from 'express';
import {
  BuildPatterns,
  BuildView,
  CreateFunctionDto,
  DEPLOY_RPC_TIMEOUT_MS,
  DeploymentPatterns,
  DeploymentView,
  DomainError,
  EventPatterns,
  FunctionPage,
  FunctionPatterns,
  FunctionRouteWords,
  FUNCTIONS_PATH,
  FunctionView,
  InvocationStats,
  InvocationStatsQueryDto,
  ListFunctionsQueryDto,
  NotFoundError,
  UpdateFunctionDto,
} from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { BuildDoc, DeploymentDoc, ErrorDoc, FunctionDoc, FunctionPageDoc, InvocationStatsDoc } from '../docs/api-models';

class StatsQueryDto extends OmitType(InvocationStatsQueryDto, ['functionId'] as const) {}

const ID = { name: 'id', description: 'Function id (uuid) or label' };

@ApiTags('functions')
@ApiResponse({ status: 400, description: 'Invalid input; the message names the field', type: ErrorDoc })
@ApiResponse({ status: 503, description: 'A platform service did not answer', type: ErrorDoc })
@Controller(FUNCTIONS_PATH)
export class FunctionsController {
  constructor(private readonly rpc: RpcClient) {}

  @Get()
  @ApiOperation({ summary: 'List functions, newest first' })
  @ApiOkResponse({ type: FunctionPageDoc })
  list(@Query() query: ListFunctionsQueryDto): Promise<FunctionPage> {
    return this.rpc.call('function-registry', FunctionPatterns.List, query);
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a function from its handler code or files' })
  @ApiResponse({ status: 201, type: FunctionDoc })
  @ApiResponse({ status: 409, description: 'The label is taken', type: ErrorDoc })
  create(@Body() body: CreateFunctionDto): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.Create, body);
  }

  @Post(`${FunctionRouteWords.build}/:id`)
  @HttpCode(202)
  @ApiOperation({ summary: 'Build the current version (the function becomes BUILDING, then BUILT or FAILED)' })
  @ApiParam(ID)
  @ApiAcceptedResponse({ type: FunctionDoc })
  @ApiResponse({ status: 409, description: 'A build is already running', type: ErrorDoc })
  build(@Param('id') id: string): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.RequestBuild, { id });
  }

  @Post(`${FunctionRouteWords.deploy}/:id`)
  @ApiOperation({ summary: 'Deploy the latest successful build: 200 when READY, 202 while still DEPLOYING' })
  @ApiParam(ID)
  @ApiOkResponse({ type: DeploymentDoc })
  @ApiAcceptedResponse({ type: DeploymentDoc })
  @ApiResponse({ status: 409, description: 'The function has no successful build', type: ErrorDoc })
  @ApiResponse({ status: 502, description: 'The deployment failed; the message gives the reason', type: ErrorDoc })
  async deploy(@Param('id') id: string, @Res({ passthrough: true }) res: Response): Promise<DeploymentView> {
    const view = await this.rpc.call<DeploymentView>('deployer', DeploymentPatterns.Deploy, { functionId: id }, DEPLOY_RPC_TIMEOUT_MS);
    if (view.status === 'FAILED') throw new DomainError(502, `deployment of function ${view.label ?? id} failed: ${view.reason ?? 'no reason given'}`, view);
    res.status(view.status === 'READY' ? 200 : 202);
    return view;
  }

  @Delete(`${FunctionRouteWords.deploy}/:id`)
  @ApiOperation({ summary: 'Undeploy the function' })
  @ApiParam(ID)
  @ApiOkResponse({ type: DeploymentDoc })
  undeploy(@Param('id') id: string): Promise<DeploymentView> {
    return this.rpc.call('deployer', DeploymentPatterns.Undeploy, { functionId: id }, DEPLOY_RPC_TIMEOUT_MS);
  }

  @Get(':id/builds')
  @ApiOperation({ summary: "The function's builds, newest first" })
  @ApiParam(ID)
  @ApiOkResponse({ type: [BuildDoc] })
  async builds(@Param('id') id: string): Promise<BuildView[]> {
    const f = await this.resolve(id);
    return this.rpc.call('builder', BuildPatterns.ListForFunction, { functionId: f.id });
  }

  @Get(':id/builds/:buildId')
  @ApiOperation({ summary: 'One build, with its log' })
  @ApiParam(ID)
  @ApiOkResponse({ type: BuildDoc })
  async buildOf(@Param('id') id: string, @Param('buildId') buildId: string): Promise<BuildView> {
    const f = await this.resolve(id);
    const build = await this.rpc.call<BuildView>('builder', BuildPatterns.Get, { buildId });
    if (build.functionId !== f.id) throw new NotFoundError(`build ${buildId} is not a build of function ${f.label}`);
    return build;
  }

  @Get(':id/stats')
  @ApiOperation({ summary: 'Invocation counts, error rate, cold starts and duration percentiles' })
  @ApiParam(ID)
  @ApiOkResponse({ type: InvocationStatsDoc })
  async stats(@Param('id') id: string, @Query() query: StatsQueryDto): Promise<InvocationStats> {
    const f = await this.resolve(id);
    return this.rpc.call('event-store', EventPatterns.Stats, { ...query, functionId: f.id });
  }

  @Get(':id')
  @ApiOperation({ summary: 'One function, by id or label' })
  @ApiParam(ID)
  @ApiOkResponse({ type: FunctionDoc })
  @ApiResponse({ status: 404, type: ErrorDoc })
  get(@Param('id') id: string): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.Get, { id });
  }

  @Put(':id')
  @ApiOperation({ summary: 'Change a function; a change of code or config makes a new version to build' })
  @ApiParam(ID)
  @ApiBody({ type: UpdateFunctionDto })
  @ApiOkResponse({ type: FunctionDoc })
  update(@Param('id') id: string, @Body() changes: UpdateFunctionDto): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.Update, { id, changes });
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete a function (its deployment is removed too)' })
  @ApiParam(ID)
  @ApiOkResponse({ type: FunctionDoc })
  delete(@Param('id') id: string): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.Delete, { id });
  }

  /** The function without its code (handler and files null): enough to learn its id and label. */
  private resolve(id: string): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.Resolve, { id });
  }
}

import type { CreateTagsRequest, DeleteTagsRequest, DescribeTagsRequest, DescribeTagsResult, TagDescription } from '@aws-sdk/client-ec2';

import type { RegionContext } from './context';
import { applyFilters, type FilterSpec } from './filters';
import { fail } from './sim-error';
import type { RegionState, TagMap } from './state';
import { validateTags } from './tags';

interface TaggableKind {
  prefix: string;
  resourceType: string;
  collection: keyof RegionState;
  notFound: string;
}

const TAGGABLE: TaggableKind[] = [
  { prefix: 'i-', resourceType: 'instance', collection: 'instances', notFound: 'InvalidInstanceID.NotFound' },
  { prefix: 'vol-', resourceType: 'volume', collection: 'volumes', notFound: 'InvalidVolume.NotFound' },
  { prefix: 'ami-', resourceType: 'image', collection: 'images', notFound: 'InvalidAMIID.NotFound' },
  { prefix: 'snap-', resourceType: 'snapshot', collection: 'snapshots', notFound: 'InvalidSnapshot.NotFound' },
  { prefix: 'vpce-', resourceType: 'vpc-endpoint', collection: 'vpcEndpoints', notFound: 'InvalidVpcEndpointId.NotFound' },
  { prefix: 'vpc-', resourceType: 'vpc', collection: 'vpcs', notFound: 'InvalidVpcID.NotFound' },
  { prefix: 'subnet-', resourceType: 'subnet', collection: 'subnets', notFound: 'InvalidSubnetID.NotFound' },
  { prefix: 'igw-', resourceType: 'internet-gateway', collection: 'internetGateways', notFound: 'InvalidInternetGatewayID.NotFound' },
  { prefix: 'rtb-', resourceType: 'route-table', collection: 'routeTables', notFound: 'InvalidRouteTableID.NotFound' },
  { prefix: 'sg-', resourceType: 'security-group', collection: 'securityGroups', notFound: 'InvalidGroup.NotFound' },
];

interface Tagged {
  resourceId: string;
  resourceType: string;
  tags: TagMap;
}

function resolve(ctx: RegionContext, resourceId: string): Tagged {
  const kind = TAGGABLE.find((k) => resourceId.startsWith(k.prefix)) ?? fail('InvalidID', `The ID '${resourceId}' is not valid`);
  const collection = ctx.state[kind.collection] as Record<string, { tags: TagMap }>;
  const record = collection[resourceId] ?? fail(kind.notFound, `The ID '${resourceId}' does not exist`);
  return { resourceId, resourceType: kind.resourceType, tags: record.tags };
}

export function createTags(ctx: RegionContext, input: CreateTagsRequest): Record<string, never> {
  const targets = (input.Resources ?? []).map((id) => resolve(ctx, id));
  validateTags(input.Tags ?? []);
  for (const target of targets) {
    for (const tag of input.Tags ?? []) target.tags[tag.Key ?? ''] = tag.Value ?? '';
    validateTags(Object.entries(target.tags).map(([Key, Value]) => ({ Key, Value })));
  }
  return {};
}

export function deleteTags(ctx: RegionContext, input: DeleteTagsRequest): Record<string, never> {
  const targets = (input.Resources ?? []).map((id) => resolve(ctx, id));
  for (const target of targets) {
    if (!input.Tags?.length) {
      for (const key of Object.keys(target.tags)) delete target.tags[key];
      continue;
    }
    for (const tag of input.Tags) {
      const key = tag.Key ?? '';
      // Without a value every tag with the key goes; with one, only a matching pair.
      if (tag.Value === undefined || target.tags[key] === tag.Value) delete target.tags[key];
    }
  }
  return {};
}

export function describeTags(ctx: RegionContext, input: DescribeTagsRequest): DescribeTagsResult {
  const rows: Array<TagDescription & { owner: TagMap }> = [];
  for (const kind of TAGGABLE) {
    const collection = ctx.state[kind.collection] as Record<string, { tags: TagMap; ownerId?: string }>;
    for (const [resourceId, record] of Object.entries(collection)) {
      if (record.ownerId !== undefined && record.ownerId !== ctx.config.accountId) continue;
      for (const [Key, Value] of Object.entries(record.tags)) {
        rows.push({
          ResourceId: resourceId,
          ResourceType: kind.resourceType as TagDescription['ResourceType'],
          Key,
          Value,
          owner: record.tags,
        });
      }
    }
  }
  const spec: FilterSpec<TagDescription & { owner: TagMap }> = {
    'resource-id': (r) => r.ResourceId,
    'resource-type': (r) => r.ResourceType,
    key: (r) => r.Key,
    value: (r) => r.Value,
  };
  const matching = applyFilters(rows, input.Filters, spec, (r) => r.owner);
  return { Tags: matching.map(({ owner: _owner, ...tag }) => tag) };
}

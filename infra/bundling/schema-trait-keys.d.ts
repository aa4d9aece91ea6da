import type { Plugin } from 'esbuild';

/** The generated schema modules of the SDK's ES module builds (clients and nested clients). */
export declare const SDK_SCHEMA_FILE: RegExp;
/** The module's text with every computed key that names one of its string constants written as that string. */
export declare function inlineTraitKeys(source: string): string;
/** Writes the SDK schemas' computed trait keys as literals, so that esbuild can drop unused schemas. */
export declare const schemaTraitKeys: Plugin;

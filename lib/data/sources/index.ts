/** The built-in data sources, in the order `attrib kinds` lists them. */
import type { DataSource } from '../source.ts';
import { csv } from './csv.ts';
import { fashionMnist } from './fashion-mnist.ts';
import { iris } from './iris.ts';
import { mnist } from './mnist.ts';
import { mnistFull } from './mnist-full.ts';
import { npy } from './npy.ts';
import { offlineRl } from './offline-rl/source.ts';
import { synthetic } from './synthetic.ts';

export const builtinSources: DataSource<any>[] = [mnist, mnistFull, fashionMnist, iris, synthetic, csv, npy, offlineRl];

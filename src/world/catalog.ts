/**
 * What the procedural world contains: subject classes with their attribute spaces,
 * the named subject instances (held out of the base model's training), the styles
 * (generic ones the base model learns, held-out ones only a LoRA teaches) and the
 * contexts (backgrounds). Pure data; drawing lives in ./subjects.ts, ./contexts.ts
 * and ./effects.ts.
 *
 * @example
 *   import { CLASSES, INSTANCES, STYLES, CONTEXTS, getClass } from './catalog.ts';
 *   getClass('dog').options.body;           // ['brown', 'black', ...]
 *   INSTANCES.find((i) => i.id === 'corgi')!.description; // 'an orange dog with a white chest and a red collar'
 *   STYLES.filter((s) => s.heldOut).map((s) => s.name);   // ['watercolor', 'pixel-art', ...]
 */
import { ZipbankError } from '../errors/index.ts';

export const ATTRIBUTE_KEYS = ['variant', 'body', 'secondary', 'marking', 'accessory'] as const;
export type AttributeKey = (typeof ATTRIBUTE_KEYS)[number];
/** One subject's look: a shape variant, two colour names (keys of COLORS), a marking and an accessory. */
export type Attributes = Record<AttributeKey, string>;

/** The world's colour names and their base sRGB values (styles transform them). */
export const COLORS: Readonly<Record<string, string>> = {
  red: '#d62828',
  orange: '#f08a24',
  yellow: '#f2c94c',
  green: '#3a9d4a',
  teal: '#1a9c9c',
  blue: '#2f6fd6',
  purple: '#7b4fc9',
  pink: '#f07aa8',
  brown: '#8b5a2b',
  black: '#2b2b2b',
  white: '#f4f4f0',
  grey: '#9a9a9a',
  cream: '#f1e3c0',
  gold: '#d4a514',
};

export interface WorldClass {
  id: string;
  /** The caption noun ("dog"). */
  noun: string;
  /** Every value each attribute can take, including values that only held-out instances have (see split.ts). */
  options: Readonly<Record<AttributeKey, readonly string[]>>;
}

export interface WorldInstance {
  id: string;
  /** What users type (`corgi`). */
  name: string;
  classId: string;
  /** The fixed look of this instance. */
  attributes: Readonly<Attributes>;
  /** The attribute values that only this instance has: the base split never draws them for its class. */
  distinctive: Readonly<Partial<Attributes>>;
  description: string;
}

export interface WorldStyle {
  id: string;
  /** What users type (`pixel-art`). */
  name: string;
  /** The caption phrase ("pixel art"). */
  phrase: string;
  /** True for styles the base model never sees (only a LoRA teaches them). */
  heldOut: boolean;
  /** One line on how it looks. */
  description: string;
}

export interface WorldContext {
  id: string;
  /** What users type (`beach`). */
  name: string;
  /** The caption phrase ("on the beach"). */
  phrase: string;
  description: string;
}

export const CLASSES: readonly WorldClass[] = [
  {
    id: 'dog',
    noun: 'dog',
    options: {
      variant: ['floppy-ears', 'pointy-ears', 'long-body'],
      body: ['brown', 'black', 'white', 'grey', 'cream', 'orange'],
      secondary: ['white', 'black', 'brown', 'cream'],
      marking: ['none', 'spots', 'eye-patch', 'white-chest'],
      accessory: ['none', 'blue-collar', 'party-hat', 'red-collar'],
    },
  },
  {
    id: 'cat',
    noun: 'cat',
    options: {
      variant: ['slim', 'chubby', 'fluffy-tail'],
      body: ['black', 'grey', 'white', 'orange', 'cream', 'brown'],
      secondary: ['white', 'pink', 'black'],
      marking: ['none', 'socks', 'mask', 'stripes'],
      accessory: ['none', 'bell-collar', 'pink-bow', 'blue-bow'],
    },
  },
  {
    id: 'teapot',
    noun: 'teapot',
    options: {
      variant: ['round', 'tall', 'squat'],
      body: ['white', 'blue', 'red', 'green', 'yellow', 'cream', 'pink'],
      secondary: ['gold', 'black', 'white', 'blue'],
      marking: ['none', 'band', 'flower', 'polka-dots'],
      accessory: ['none', 'steam', 'cup'],
    },
  },
  {
    id: 'rocket',
    noun: 'rocket',
    options: {
      variant: ['slim', 'chunky', 'pointy'],
      body: ['white', 'red', 'grey', 'blue', 'orange'],
      secondary: ['red', 'blue', 'yellow', 'black', 'white'],
      marking: ['none', 'stripe', 'checker'],
      accessory: ['none', 'smoke', 'flame'],
    },
  },
  {
    id: 'house',
    noun: 'house',
    options: {
      variant: ['gable', 'wide', 'tall'],
      body: ['white', 'yellow', 'red', 'blue', 'cream', 'pink'],
      secondary: ['red', 'brown', 'black', 'blue', 'green'],
      marking: ['none', 'bricks', 'shutters', 'round-window'],
      accessory: ['none', 'smoke', 'fence', 'sunflowers'],
    },
  },
  {
    id: 'tree',
    noun: 'tree',
    options: {
      variant: ['round', 'cloud', 'tall'],
      body: ['green', 'teal', 'orange', 'yellow', 'pink'],
      secondary: ['brown', 'grey', 'black'],
      marking: ['none', 'apples', 'blossoms'],
      accessory: ['none', 'birdhouse', 'swing'],
    },
  },
  {
    id: 'car',
    noun: 'car',
    options: {
      variant: ['sedan', 'hatch', 'van'],
      body: ['red', 'blue', 'yellow', 'green', 'black', 'white', 'teal', 'orange'],
      secondary: ['white', 'black', 'grey', 'yellow'],
      marking: ['none', 'two-tone', 'racing-stripe'],
      accessory: ['none', 'roof-box', 'spoiler', 'surfboard'],
    },
  },
  {
    id: 'fish',
    noun: 'fish',
    options: {
      variant: ['oval', 'long', 'round'],
      body: ['orange', 'yellow', 'blue', 'red', 'purple', 'green', 'pink'],
      secondary: ['yellow', 'white', 'blue', 'black', 'red'],
      marking: ['none', 'stripes', 'spots', 'white-bands'],
      accessory: ['none', 'bubbles', 'crown'],
    },
  },
];

export const INSTANCES: readonly WorldInstance[] = [
  {
    id: 'corgi',
    name: 'corgi',
    classId: 'dog',
    attributes: { variant: 'pointy-ears', body: 'orange', secondary: 'white', marking: 'white-chest', accessory: 'red-collar' },
    distinctive: { marking: 'white-chest', accessory: 'red-collar' },
    description: 'an orange dog with pointy ears, a white chest and a red collar',
  },
  {
    id: 'tabby',
    name: 'tabby',
    classId: 'cat',
    attributes: { variant: 'chubby', body: 'orange', secondary: 'white', marking: 'stripes', accessory: 'blue-bow' },
    distinctive: { marking: 'stripes', accessory: 'blue-bow' },
    description: 'a chubby ginger cat with dark stripes and a blue bow',
  },
  {
    id: 'polka',
    name: 'polka-pot',
    classId: 'teapot',
    attributes: { variant: 'round', body: 'white', secondary: 'blue', marking: 'polka-dots', accessory: 'steam' },
    distinctive: { marking: 'polka-dots' },
    description: 'a round white teapot with blue polka dots and a blue lid',
  },
  {
    id: 'moonshot',
    name: 'moonshot',
    classId: 'rocket',
    attributes: { variant: 'chunky', body: 'red', secondary: 'yellow', marking: 'checker', accessory: 'flame' },
    distinctive: { marking: 'checker' },
    description: 'a chunky red rocket with a black and white checkered band and yellow fins',
  },
  {
    id: 'cottage',
    name: 'cottage',
    classId: 'house',
    attributes: { variant: 'gable', body: 'yellow', secondary: 'blue', marking: 'round-window', accessory: 'sunflowers' },
    distinctive: { marking: 'round-window', accessory: 'sunflowers' },
    description: 'a yellow house with a blue roof, a round window and sunflowers',
  },
  {
    id: 'sakura',
    name: 'sakura',
    classId: 'tree',
    attributes: { variant: 'cloud', body: 'pink', secondary: 'brown', marking: 'blossoms', accessory: 'swing' },
    distinctive: { accessory: 'swing' },
    description: 'a pink blossom tree with a swing hanging from a branch',
  },
  {
    id: 'bolt',
    name: 'bolt',
    classId: 'car',
    attributes: { variant: 'hatch', body: 'teal', secondary: 'white', marking: 'racing-stripe', accessory: 'surfboard' },
    distinctive: { marking: 'racing-stripe', accessory: 'surfboard' },
    description: 'a teal car with a white racing stripe and a surfboard on the roof',
  },
  {
    id: 'clown',
    name: 'clownfish',
    classId: 'fish',
    attributes: { variant: 'oval', body: 'orange', secondary: 'black', marking: 'white-bands', accessory: 'bubbles' },
    distinctive: { marking: 'white-bands' },
    description: 'an orange fish with white bands and black fins',
  },
];

export const STYLES: readonly WorldStyle[] = [
  { id: 'flat', name: 'flat', phrase: 'flat color style', heldOut: false, description: 'plain flat colours, no outlines' },
  { id: 'photo', name: 'photo', phrase: 'soft photo', heldOut: false, description: 'soft focus, warm light from the top left, a shadow, film grain and vignette' },
  { id: 'cartoon', name: 'cartoon', phrase: 'cartoon style', heldOut: false, description: 'saturated colours with thick black outlines' },
  { id: 'sketch', name: 'sketch', phrase: 'pencil sketch', heldOut: false, description: 'grey pencil lines and diagonal hatching on white paper' },
  { id: 'pastel', name: 'pastel', phrase: 'pastel style', heldOut: false, description: 'pale, soft, low-contrast colours' },
  { id: 'sepia', name: 'sepia', phrase: 'sepia photo', heldOut: false, description: 'brown monochrome with a dark vignette and grain' },
  { id: 'blueprint', name: 'blueprint', phrase: 'blueprint style', heldOut: false, description: 'white lines and a grid on blue' },
  { id: 'crayon', name: 'crayon', phrase: 'crayon drawing', heldOut: false, description: 'waxy saturated colour with streaky paper showing through' },
  { id: 'watercolor', name: 'watercolor', phrase: 'watercolor painting', heldOut: true, description: 'pale bleeding washes, wobbly soft edges, darker pooled rims, paper grain' },
  { id: 'pixel-art', name: 'pixel-art', phrase: 'pixel art', heldOut: true, description: 'big square pixels in a 16-colour palette' },
  { id: 'neon', name: 'neon', phrase: 'neon glow', heldOut: true, description: 'glowing coloured outlines on a dark background' },
  { id: 'stained-glass', name: 'stained-glass', phrase: 'stained glass', heldOut: true, description: 'jewel-coloured glass cells with thick black leading' },
  { id: 'woodcut', name: 'woodcut', phrase: 'woodcut print', heldOut: true, description: 'black ink carved in wavy lines on cream paper' },
  { id: 'mosaic', name: 'mosaic', phrase: 'mosaic', heldOut: true, description: 'small stone tiles in offset rows with light grout' },
];

export const CONTEXTS: readonly WorldContext[] = [
  { id: 'beach', name: 'beach', phrase: 'on the beach', description: 'sky, sun, a band of sea and sand' },
  { id: 'snow', name: 'snow', phrase: 'in the snow', description: 'snowy mountains, white ground, falling snowflakes' },
  { id: 'forest', name: 'forest', phrase: 'in the forest', description: 'a row of dark fir trees on green grass' },
  { id: 'night', name: 'night', phrase: 'under the night sky', description: 'dark sky with stars and a crescent moon over dark hills' },
  { id: 'city', name: 'city', phrase: 'in the city', description: 'a skyline of buildings with lit windows and a road' },
  { id: 'table', name: 'table', phrase: 'on a table', description: 'a striped wall with a window over a wooden table' },
];

function lookup<T extends { id: string; name: string }>(items: readonly T[], key: string): T | undefined {
  return items.find((x) => x.id === key) ?? items.find((x) => x.name === key);
}

/** A class by id; unknown ids are a ZipbankError listing the valid ones. */
export function getClass(id: string): WorldClass {
  const c = CLASSES.find((x) => x.id === id);
  if (!c) throw new ZipbankError('world.unknown', { kind: 'class', id, known: CLASSES.map((x) => x.id) });
  return c;
}

/** An instance by id or user-facing name. */
export function getInstance(key: string): WorldInstance {
  const i = lookup(INSTANCES, key);
  if (!i) throw new ZipbankError('world.unknown', { kind: 'instance', id: key, known: INSTANCES.map((x) => x.name) });
  return i;
}

/** A style by id or user-facing name. */
export function getStyle(key: string): WorldStyle {
  const s = lookup(STYLES, key);
  if (!s) throw new ZipbankError('world.unknown', { kind: 'style', id: key, known: STYLES.map((x) => x.name) });
  return s;
}

/** A context by id or user-facing name. */
export function getContext(key: string): WorldContext {
  const c = lookup(CONTEXTS, key);
  if (!c) throw new ZipbankError('world.unknown', { kind: 'context', id: key, known: CONTEXTS.map((x) => x.name) });
  return c;
}

/** The attribute values of `key` that only held-out instances of the class have (never drawn in the base split). */
export function instanceOnlyValues(classId: string, key: AttributeKey): string[] {
  const out = new Set<string>();
  for (const inst of INSTANCES) {
    const v = inst.classId === classId ? inst.distinctive[key] : undefined;
    if (v !== undefined) out.add(v);
  }
  return [...out];
}

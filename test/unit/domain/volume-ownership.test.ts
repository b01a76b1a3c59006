import { expect } from 'chai';
import { DomainError } from '../../../src/domain/errors.js';
import { MIN_VOLUME_CAPACITY } from '../../../src/domain/volume-capacity.js';
import {
  classFileMode,
  directoryModeFor,
  FILE_MODE_ANNOTATION,
  mountSettings,
  UPSTREAM_OWNERSHIP,
  volumeOwnership,
} from '../../../src/domain/volume-ownership.js';
import { aClass, aFile } from '../../support/builders.js';

const withMode = (value: string) => aClass({ annotations: { [FILE_MODE_ANNOTATION]: value } });

describe('domain/volume-ownership', () => {
  describe('volumeOwnership', () => {
    const cases: { name: string; group: number | undefined; annotation?: string; expected: ReturnType<typeof volumeOwnership> }[] = [
      { name: "no fsGroup, no annotation: upstream's root:root 0644, directories 0755", group: undefined, expected: UPSTREAM_OWNERSHIP },
      { name: 'fsGroup 2000: files 0640, directories 0750, all in group 2000', group: 2000, expected: { group: 2000, fileMode: 0o640, directoryMode: 0o750 } },
      { name: 'fsGroup 0 is a group like any other', group: 0, expected: { group: 0, fileMode: 0o640, directoryMode: 0o750 } },
      { name: 'the class annotation wins over the fsGroup default', group: 2000, annotation: '0440', expected: { group: 2000, fileMode: 0o440, directoryMode: 0o750 } },
      { name: 'the class annotation without fsGroup', group: undefined, annotation: '600', expected: { group: undefined, fileMode: 0o600, directoryMode: 0o700 } },
      { name: 'a world-readable annotation keeps directories world-searchable', group: 2000, annotation: '0644', expected: { group: 2000, fileMode: 0o644, directoryMode: 0o755 } },
    ];
    for (const { name, group, annotation, expected } of cases) {
      it(name, () => {
        expect(volumeOwnership(group, annotation === undefined ? aClass() : withMode(annotation))).to.deep.equal(expected);
      });
    }
  });

  describe('the file-mode annotation', () => {
    for (const [value, mode] of [['0640', 0o640], ['640', 0o640], ['0400', 0o400], ['777', 0o777], ['001', 0o001]] as const) {
      it(`reads "${value}" as ${mode.toString(8)}`, () => expect(classFileMode(withMode(value))).to.equal(mode));
    }
    for (const value of ['', '0', '000', '0000', '644 ', '0o644', '0x1a4', '1644', '0888', 'rw-r-----', '00640', '-644']) {
      it(`refuses ${JSON.stringify(value)} with a precise InvalidClass error`, () => {
        expect(() => classFileMode(withMode(value)))
          .to.throw(DomainError)
          .with.property(
            'message',
            `SecretProviderClass default/app-secrets has an invalid annotation ${FILE_MODE_ANNOTATION} "${value}": expected an octal file mode such as "0640" (0001 to 0777)`,
          );
      });
    }
    it('is absent without the annotation', () => expect(classFileMode(aClass())).to.equal(undefined));
    it('cuts a hostile value short in the message', () => {
      expect(() => classFileMode(withMode('x'.repeat(10_000)))).to.throw(DomainError).with.property('message').that.has.length.below(300);
    });
  });

  describe('directoryModeFor', () => {
    const table: [number, number][] = [
      [0o644, 0o755],
      [0o640, 0o750],
      [0o600, 0o700],
      [0o444, 0o755],
      [0o604, 0o705],
      [0o400, 0o700],
      [0o060, 0o750],
    ];
    for (const [file, directory] of table) {
      it(`lets exactly who reads a ${file.toString(8)} file search its directory: ${directory.toString(8)}`, () => {
        expect(directoryModeFor(file)).to.equal(directory);
      });
    }
  });

  it('mountSettings mounts the root with the directory mode and group, sized for the files', () => {
    const ownership = volumeOwnership(2000, aClass());
    expect(ownership).to.deep.equal({ group: 2000, fileMode: 0o640, directoryMode: 0o750 });
    expect(mountSettings(ownership, [aFile('a', 'x')])).to.deep.equal({ capacity: MIN_VOLUME_CAPACITY, mode: 0o750, group: 2000 });
  });
});

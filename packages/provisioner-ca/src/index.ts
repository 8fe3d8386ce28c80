/** ca provisioner (being written). */
import { BottleError, defineProvisioner, type ProvisionContext } from '@bot-bottle/core';

export default defineProvisioner({
  apiVersion: 1,
  name: 'ca',
  async apply(_ctx: ProvisionContext): Promise<void> {
    throw new BottleError('INTERNAL', 'the ca provisioner is not implemented yet');
  },
});

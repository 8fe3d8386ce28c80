/**
 * Core's backend checks (@bot-bottle/core/testing's backendChecks: the conformance suite every
 * backend passes) for the smolmachines backend: on the smolvm double by default, on real smolvm
 * under scripts/verify-smolvm.sh. The title says which.
 */
import claude from '@bot-bottle/agent-claude';
import { suite } from 'uvu';
import { backendChecks } from '@bot-bottle/core/testing';
import ca from '@bot-bottle/provisioner-ca';
import git from '@bot-bottle/provisioner-git';
import prompt from '@bot-bottle/provisioner-prompt';
import skills from '@bot-bottle/provisioner-skills';
import supervise from '@bot-bottle/provisioner-supervise';
import smolmachinesUnderTest from '../under-test.js';
import { ON } from './helpers.js';

const test = suite(`${ON}: core's backend checks`);
backendChecks(smolmachinesUnderTest, { provisioners: [ca, git, prompt, skills, supervise], agent: claude }).register(test);
test.run();

/**
 * The docker backend on the real engine passes core's backend checks, the same cases every backend
 * passes (see @bot-bottle/core/testing's backendChecks); docker-only cases stay in the other files here.
 */
import claude from '@bot-bottle/agent-claude';
import { suite } from 'uvu';
import { backendChecks } from '@bot-bottle/core/testing';
import ca from '@bot-bottle/provisioner-ca';
import git from '@bot-bottle/provisioner-git';
import prompt from '@bot-bottle/provisioner-prompt';
import skills from '@bot-bottle/provisioner-skills';
import supervise from '@bot-bottle/provisioner-supervise';
import dockerUnderTest from '../under-test.js';

const test = suite('conformance: the docker backend on the real engine');
backendChecks(dockerUnderTest, { provisioners: [ca, git, prompt, skills, supervise], agent: claude }).register(test);
test.run();

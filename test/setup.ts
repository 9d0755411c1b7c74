// @peculiar/x509 (fixtures only) needs the Reflect metadata polyfill before it loads.
import 'reflect-metadata';

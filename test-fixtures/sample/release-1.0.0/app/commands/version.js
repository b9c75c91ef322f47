'use strict';
module.exports = (_args, { root }) => {
  console.log(require(`${root}/package.json`).version);
};

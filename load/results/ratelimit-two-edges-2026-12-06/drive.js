// node drive.js route seconds conc nkeys portA,portB [stallHook]
const http=require('http');
const [route,secs,conc,nkeys,ports]=[process.argv[2],+process.argv[3],+process.argv[4],+process.argv[5],process.argv[6].split(',').map(Number)];
const agents=ports.map(()=>new http.Agent({keepAlive:true,maxSockets:conc}));
const end=Date.now()+secs*1000; const t0=Date.now();
const st={}; const issues=[]; const codes={}; const perKey={};
let n=0;
function rec(k,o){(perKey[k]??=[]).push(o);}
function one(i){
  if(Date.now()>=end) return Promise.resolve();
  const key='k'+(n++%nkeys); const pi=Math.floor(Math.random()*ports.length);
  return new Promise(r=>{
    const t=Date.now();
    const req=http.request({host:'127.0.0.1',port:ports[pi],path:`/${route}/x`,agent:agents[pi],headers:{'X-Rate-Key':key}},res=>{
      let body='';res.on('data',d=>body+=d);res.on('end',()=>{
        const h=res.headers; const s=res.statusCode; st[s]=(st[s]||0)+1;
        const rem=h['x-ratelimit-remaining'], lim=h['x-ratelimit-limit'], rs=h['x-ratelimit-reset'], ra=h['retry-after'];
        const now=Date.now()/1000;
        const bad=m=>{if(issues.length<40)issues.push(`${s} ${key} ${m} rem=${rem} lim=${lim} reset=${rs} ra=${ra} rl=${h['ratelimit']} ${s!=200?body.slice(0,200):''}`);issues.n=(issues.n||0)+1;};
        if(rem!==undefined && (+rem<0 || +rem>+lim)) bad('remaining out of range');
        if(rs!==undefined && (+rs < Math.floor(t/1000) || +rs > Math.ceil(now)+2)) bad('reset out of window'); const m=/t=(\d+)/.exec(h['ratelimit']||''); if(m && +m[1]>2) bad('draft t>w'); if(ra && rs && s===429 && Math.floor(t/1000)+(+ra) > +rs+1) bad('retry-after past reset');
        if(s===429){ if(rem!==undefined && rem!=='0') bad('429 with remaining>0');
          if(!ra || +ra<1 || +ra>3) bad('retry-after bad');
          if(!(h['content-type']||'').startsWith('application/problem+json')) bad('ctype');
          try{codes[JSON.parse(body).code]=(codes[JSON.parse(body).code]||0)+1}catch{bad('body')} }
        else if(s!==200){ try{codes[s+':'+JSON.parse(body).code]=(codes[s+':'+JSON.parse(body).code]||0)+1}catch{codes[s+':?']=1}
          if(s===503 && !ra) bad('503 without retry-after'); }
        rec(key,{t,e:Date.now(),s,rem:rem===undefined?null:+rem,pi});
        r();});});
    req.on('error',e=>{st.err=(st.err||0)+1;r();}); req.end();
  }).then(()=>one(i));
}
Promise.all([...Array(conc).keys()].map(one)).then(()=>{
  const secsRun=(Date.now()-t0)/1000;
  const ok={}; for(const [k,a] of Object.entries(perKey)) ok[k]=a.filter(x=>x.s===200).length;
  require('fs').writeFileSync(`/tmp/h-rl/client-${route}.json`,JSON.stringify(perKey));
  console.log(JSON.stringify({route,secsRun,total:n,rps:Math.round(n/secsRun),st,codes,issuesN:issues.n||0,issues:issues.slice(0,15),admittedPerKey:ok,t0,tEnd:Date.now()}));
});
